"""Running the user's code on the library's threads: one way, for every thread that does it.

Callbacks (``on()``, ``on_video_frame``, ``on_avatar_audio``), tools, the image feed's source
and ``after_reply`` jobs run on threads the library owns. Whatever they raise,
``SystemExit`` and ``KeyboardInterrupt`` included, must not end those threads: ``run()``
catches everything and hands the failure back, and ``report()`` logs it with its traceback
(the same failure over and over is logged at most once in ``REPEAT_INTERVAL`` seconds).
Each caller then reports it its own way (a ``client.callback_error`` or ``client.tool_error``
event) and goes on.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Generic, TypeVar

import attrs

from .logs import RepeatLimiter

__all__ = ["Failure", "callback_name", "report", "run"]

T = TypeVar("T")

#: One limiter per logger and kind of user code, so a flood from one hides no other.
_limiters: dict[tuple[str, str], RepeatLimiter] = {}


@attrs.frozen
class Failure(Generic[T]):
    """What ``run()`` returns when the code raised: the exception, which is not re-raised."""

    error: BaseException


def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T | Failure[T]:
    """``fn(*args, **kwargs)``, or a ``Failure`` holding whatever it raised."""
    try:
        return fn(*args, **kwargs)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt too: the thread goes on
        return Failure(exc)


def callback_name(fn: Callable[..., Any]) -> str:
    """How a piece of user code is named in logs and events."""
    name = getattr(fn, "__qualname__", None)
    return name if isinstance(name, str) else repr(fn)


def report(logger: logging.Logger, kind: str, fn: Callable[..., Any], failure: Failure[Any],
           context: str = "") -> None:  # fmt: skip
    """Log a failure of user code of ``kind`` ("callback", "tool"...), with its traceback."""
    limiter = _limiters.setdefault((logger.name, kind), RepeatLimiter(logger))
    error = failure.error
    where = f" while handling {context}" if context else ""
    limiter.log(
        logging.ERROR,
        "%s %s raised %s%s",
        kind,
        callback_name(fn),
        type(error).__name__,
        where,
        exc_info=(type(error), error, error.__traceback__),
    )

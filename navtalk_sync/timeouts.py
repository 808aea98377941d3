"""Durations: what a timeout may be, and the time left for an operation.

One rule for every duration the library takes (a call's ``timeout``, a setting such as
``close_timeout``, an interval, a grace period): a real number of seconds, greater than 0 (or
at least 0 where zero makes sense) and at most ``MAX_SECONDS``. ``inf``, NaN and larger values
are refused where they are given, with ``InvalidArgument`` (``ConfigError`` for settings):
every blocking call has a limit, and the waits underneath (``threading``, ``queue``, sockets)
cannot take more than a few hundred years anyway, failing deep inside if asked to.

``Deadline`` is the time left for a whole operation that waits in several steps (``close()``
above all), so the steps share one budget instead of each taking its own.
"""

from __future__ import annotations

import numbers
import time
from typing import Any

from .errors import InvalidArgument

__all__ = ["MAX_SECONDS", "Deadline", "check_seconds"]

#: The longest duration accepted anywhere: a week.
MAX_SECONDS = 7 * 24 * 3600.0


def check_seconds(
    value: Any,
    name: str = "timeout",
    *,
    zero_ok: bool = False,
    error: type[InvalidArgument] = InvalidArgument,
) -> float:
    """``value`` as float seconds, or ``error`` naming ``name`` and what is accepted."""
    lowest = ">= 0" if zero_ok else "> 0"
    accepted = f"a number of seconds {lowest} and <= {MAX_SECONDS:.0f} (a week)"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{name} must be {accepted}, got {value!r}")
    seconds: Any = value  # compared before it is converted: a huge int overflows float()
    in_range = (seconds >= 0 if zero_ok else seconds > 0) and seconds <= MAX_SECONDS  # NaN: no
    if not in_range:
        raise error(f"{name} must be {accepted}, got {value!r}")
    return float(value)


class Deadline:
    """The time left of a budget that several steps share.

    ``remaining()`` never goes below 0, so a step that starts late waits for nothing rather
    than for a minimum of its own: the whole operation ends within the budget.
    """

    __slots__ = ("_end",)

    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def remaining(self, share: float = 1.0) -> float:
        """Seconds left (times ``share``, for a step that must leave time to those after it)."""
        return max(0.0, (self._end - time.monotonic()) * share)

    def part(self, share: float) -> Deadline:
        """A deadline for one step: ``share`` of the time left now."""
        return Deadline(self.remaining(share))

    def __repr__(self) -> str:
        return f"<Deadline {self.remaining():.3f} s left>"

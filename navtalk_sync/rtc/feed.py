"""What the video and voice feeds share: user callbacks called on a thread of their own.

A feed's subclass decides what waits (a one-frame slot, a bounded queue); this base runs the
named thread that takes the next item, calls every registered callback with it, and reports
whatever a callback raises (``SystemExit`` included, see ``user_code``) to the error handler
instead of letting it end the thread. Preparing an item (decoding a frame the server sent) is
guarded the same way: an item that cannot be prepared is skipped and logged.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Generic, TypeVar

from .. import user_code
from ..logs import RepeatLimiter, get_logger
from ..threads import LibraryThread

__all__ = ["CallbackThread"]

log = get_logger(__name__)

Item = TypeVar("Item")
Value = TypeVar("Value")
ErrorHandler = Callable[[Callable[..., object], BaseException], None]


class CallbackThread(Generic[Item, Value]):
    """Callbacks, their thread, and the condition the subclass's queue shares with it."""

    def __init__(self, thread_name: str) -> None:
        self._cond = threading.Condition()
        self._callbacks: list[Callable[[Value], object]] = []
        self._on_error: ErrorHandler | None = None
        self._stopping = False
        self._thread = LibraryThread(target=self._run, name=thread_name)
        self._unprepared = RepeatLimiter(log)
        self.delivered = 0

    # ------------------------------------------------------------------ what subclasses give

    def _ready(self) -> bool:
        """Whether an item waits (called under ``_cond``)."""
        raise NotImplementedError

    def _take(self) -> Item:
        """Remove and return the waiting item (called under ``_cond``)."""
        raise NotImplementedError

    def _prepare(self, item: Item) -> Value:
        """The value handed to the callbacks (called on the thread, outside the lock)."""
        return item  # type: ignore[return-value]

    # ------------------------------------------------------------------ callbacks

    @property
    def has_callbacks(self) -> bool:
        return bool(self._callbacks)

    def add_callback(self, fn: Callable[[Value], object]) -> None:
        with self._cond:
            self._callbacks.append(fn)

    def remove_callback(self, fn: Callable[[Value], object]) -> bool:
        with self._cond:
            if fn in self._callbacks:
                self._callbacks.remove(fn)
                return True
            return False

    def set_error_handler(self, fn: ErrorHandler) -> None:
        """Called with (callback, exception) when a callback raises."""
        self._on_error = fn

    # ------------------------------------------------------------------ the thread

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._ready() or self._stopping)
                if self._stopping:
                    return
                item = self._take()
                callbacks = list(self._callbacks)
            if not callbacks:
                continue
            value = user_code.run(self._prepare, item)
            if isinstance(value, user_code.Failure):
                error = value.error
                self._unprepared.log(
                    logging.ERROR, "%s skipped an item it could not prepare", self._thread.name,
                    exc_info=(type(error), error, error.__traceback__),
                )  # fmt: skip
                continue
            for fn in callbacks:
                self._call(fn, value)
            self.delivered += 1

    def _call(self, fn: Callable[[Value], object], value: Value) -> None:
        outcome = user_code.run(fn, value)
        if isinstance(outcome, user_code.Failure):
            user_code.report(log, "callback", fn, outcome, self._thread.name)
            if self._on_error is not None:
                self._on_error(fn, outcome.error)

    def stop(self, timeout: float) -> None:
        """End the thread (after the callback under way, if any) and wake waiters."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("a %s callback is still running after close()", self._thread.name)

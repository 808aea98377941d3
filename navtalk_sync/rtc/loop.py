"""A portal to one asyncio event loop running on its own thread (``navtalk-rtc``).

aiortc is asyncio-only and not thread-safe, so every aiortc object lives on this loop and the
rest of the library reaches it only through ``run()`` (wait for a result, with a timeout) or
``submit()`` (fire, get a ``concurrent.futures.Future``). ``stop()`` cancels what is still
running, closes the loop and joins the thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from typing import Any, Callable, Coroutine, TypeVar

from ..errors import NavTalkError, NavTalkTimeout, NotConnected
from ..logs import get_logger
from ..threads import LibraryThread

__all__ = ["LoopThread"]

log = get_logger(__name__)

T = TypeVar("T")

#: How long the loop's teardown waits for executor threads (DNS lookups) to end.
EXECUTOR_TIMEOUT = 1.0


async def _bounded(coro: Coroutine[Any, Any, Any], timeout: float) -> None:
    try:
        await asyncio.wait_for(coro, timeout)
    except asyncio.TimeoutError:
        log.warning("executor threads still running after %.1f s", timeout)


class LoopThread:
    """One asyncio loop on a named daemon thread, driven from synchronous code."""

    def __init__(self, name: str = "navtalk-rtc", workers: int = 2) -> None:
        self._name = name
        self._workers = workers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopped = False

    def start(self, timeout: float = 5.0) -> LoopThread:
        """Start the thread and wait until its loop runs (idempotent)."""
        with self._lock:
            if self._stopped:
                raise NotConnected(f"the {self._name} loop has been stopped")
            if self._thread is not None:
                return self
            ready = threading.Event()
            self._thread = LibraryThread(target=self._main, args=(ready,), name=self._name)
            self._thread.start()
        if not ready.wait(timeout):
            raise NavTalkTimeout(f"the {self._name} loop to start", timeout)
        return self

    def _main(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        # aiortc resolves addresses in the default executor: named threads, joined at teardown
        loop.set_default_executor(
            concurrent.futures.ThreadPoolExecutor(
                self._workers, thread_name_prefix=f"{self._name}-worker"
            )
        )
        asyncio.set_event_loop(loop)
        self._loop = loop
        loop.call_soon(ready.set)
        try:
            loop.run_forever()
        except BaseException:  # a task raised SystemExit or KeyboardInterrupt through the loop
            log.exception("the %s loop stopped on an error", self._name)
        finally:
            self._stopped = True  # nothing may be submitted to a loop that no longer runs
            try:
                self._cancel_remaining(loop)
            finally:
                loop.close()

    @staticmethod
    def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
        tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(_bounded(loop.shutdown_default_executor(), EXECUTOR_TIMEOUT))

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The event loop (None before ``start()``); use it only through this portal."""
        return self._loop

    @property
    def running(self) -> bool:
        return self._loop is not None and not self._stopped

    def in_loop(self) -> bool:
        """True when called on the loop's own thread."""
        return self._thread is threading.current_thread()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the loop; returns at once."""
        loop = self._loop
        if loop is None or self._stopped:
            coro.close()
            raise NotConnected(f"the {self._name} loop is not running")
        try:
            return asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError:  # closed between the look and the call
            coro.close()
            raise NotConnected(f"the {self._name} loop is not running") from None

    def call_later(self, delay: float, fn: Callable[[], None]) -> bool:
        """Run ``fn()`` on the loop after ``delay`` seconds; it must return at once. False
        (and nothing scheduled) when the loop is not running."""
        loop = self._loop
        if loop is None or self._stopped:
            return False
        try:
            loop.call_soon_threadsafe(loop.call_later, delay, fn)
        except RuntimeError:  # closed between the look and the call
            return False
        return True

    def run(self, coro: Coroutine[Any, Any, T], timeout: float, what: str = "") -> T:
        """Run ``coro`` on the loop and return its result; cancels it after ``timeout`` s.

        Exceptions raised by ``coro`` are raised here. Calling it from the loop thread itself
        would deadlock, so that raises ``NavTalkError``.
        """
        if self.in_loop():
            coro.close()
            raise NavTalkError("LoopThread.run() called from its own loop thread")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except RuntimeError as exc:
            if self.running:
                raise  # the coroutine's own error
            raise NotConnected(f"the {self._name} loop is not running: {exc}") from None
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise NavTalkTimeout(
                what or getattr(coro, "__qualname__", "a coroutine"), timeout
            ) from None
        except concurrent.futures.CancelledError:
            raise NotConnected(f"the {self._name} loop stopped before the call finished") from None

    def stop(self, timeout: float = 2.0) -> bool:
        """Cancel what runs, close the loop, join the thread; False if it is still running.
        Called again, it joins a thread the first call left running."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        loop = self._loop
        if thread is None or loop is None:
            return True
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            pass  # closed already: the thread is ending or gone
        if thread is threading.current_thread():
            return False
        thread.join(timeout)
        if thread.is_alive():
            log.warning("the %s loop did not stop within %.1f s", self._name, timeout)
            return False
        return True

"""Running blocking calls (user brains) off the event loop, on threads we can account for.

One short-lived daemon thread per call instead of the loop's default executor: ``stop()`` can
join exactly the threads still running, with a timeout, and a brain that never returns cannot
block interpreter exit.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Callable, TypeVar

__all__ = ["Offloader"]

T = TypeVar("T")


class Offloader:
    """Starts named worker threads and delivers their results to the awaiting coroutine."""

    def __init__(self, thread_name: str) -> None:
        self._name = thread_name
        self._lock = threading.Lock()
        self._threads: set[threading.Thread] = set()

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        """``fn(*args)`` on a new thread; its result or exception comes back here."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def deliver(result: object, error: BaseException | None) -> None:
            if future.done():  # the awaiting task was cancelled meanwhile
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(result)  # type: ignore[arg-type]

        def work() -> None:
            result: object = None
            error: BaseException | None = None
            try:
                result = fn(*args)
            except Exception as exc:
                error = exc
            except BaseException as exc:  # never hand SystemExit & co. to the loop
                error = RuntimeError(f"{type(exc).__name__} raised: {exc}")
            try:
                loop.call_soon_threadsafe(deliver, result, error)
            except RuntimeError:  # the loop is closed: the server stopped meanwhile
                pass
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=work, name=self._name, daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()
        return await future

    def join(self, timeout: float) -> bool:
        """Wait for running calls to end; True if none is left."""
        with self._lock:
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

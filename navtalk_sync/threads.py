"""The threads the library starts: named, daemon, and joinable in a way Ctrl-C cannot spoil.

On Python before 3.13, a ``Thread.join()`` interrupted by ``KeyboardInterrupt`` may mark the
thread as ended while it still runs: from then on ``is_alive()`` is False and ``join()``
returns at once. A ``close()`` cut short by Ctrl-C could then never wait for that thread
again, and the next ``close()`` would leave it running. ``LibraryThread`` keeps its own record
of the end (an event set when its target returns), and ``join()`` and ``is_alive()`` read
that, which an interruption cannot corrupt.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

__all__ = ["LibraryThread"]


class LibraryThread(threading.Thread):
    """A named daemon thread whose ``join()`` survives being interrupted."""

    def __init__(self, target: Callable[..., Any], name: str, args: tuple[Any, ...] = ()) -> None:
        super().__init__(target=target, name=name, args=args, daemon=True)
        self._finished = threading.Event()

    def run(self) -> None:
        try:
            super().run()
        finally:
            self._finished.set()

    def join(self, timeout: float | None = None) -> None:
        if self is threading.current_thread():
            raise RuntimeError("cannot join current thread")
        self._finished.wait(timeout)

    def is_alive(self) -> bool:
        return self.ident is not None and not self._finished.is_set()

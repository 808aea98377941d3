"""The threads behind tool calls: a bounded pool of workers and one timer.

``WorkerPool`` runs work items on ``navtalk-tool-<n>`` threads taken from a bounded queue. A
worker survives whatever its item raises (``run_item`` is given the item and must not raise,
but the loop holds even if it does). Python cannot stop a thread, so a worker stuck in a tool
that will not return is *abandoned*: a fresh worker takes its place, so the pool keeps
answering, and the stuck one ends as soon as its tool returns. At most ``workers`` threads are
abandoned at a time; beyond that no replacement is made and the pool shrinks, so a client
never holds more than twice its workers in threads, however many tools hang.

``DeadlineTimer`` is one ``navtalk-tool-timer`` thread that calls ``expire(item)`` when an
item's deadline passes, whether the item is still waiting for a worker or running.

``close(deadline)`` stops taking work, drops what waits, lets running items finish until the
deadline and returns then; threads still in a tool are left to end on their own (named, daemon,
and logged).
"""

from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from typing import Any, Callable, Generic, TypeVar

from .logs import get_logger
from .threads import LibraryThread
from .timeouts import Deadline

__all__ = ["DeadlineTimer", "WorkerPool"]

log = get_logger(__name__)

Item = TypeVar("Item")

_STOP = object()


class WorkerPool(Generic[Item]):
    """``workers`` threads running ``run_item(item)`` for items from a queue of ``queue_size``."""

    def __init__(
        self,
        run_item: Callable[[Item], None],
        on_dropped: Callable[[Item], None],
        workers: int = 4,
        queue_size: int = 32,
        name: str = "navtalk-tool",
    ) -> None:
        self._run_item = run_item
        self._on_dropped = on_dropped
        self._size = workers
        self._name = name
        self._queue: queue.Queue[Any] = queue.Queue(queue_size)
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._abandoned: list[threading.Thread] = []
        self._numbers = itertools.count()
        self._closed = False
        self.abandoned_total = 0

    def submit(self, item: Item) -> bool:
        """Queue ``item``; False when the pool is closed or its queue is full."""
        with self._lock:  # put under the lock: nothing goes in once close() has begun
            if self._closed:
                return False
            self._fill()
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                return False
        return True

    def _fill(self) -> None:
        """Start workers up to the pool's size, minus the abandoned ones over the bound
        (under the lock)."""
        self._abandoned = [t for t in self._abandoned if t.is_alive()]
        room = 2 * self._size - len(self._abandoned)
        while len(self._workers) < min(self._size, room):
            thread = LibraryThread(target=self._work, name=f"{self._name}-{next(self._numbers)}")
            self._workers.append(thread)
            thread.start()

    def abandon(self, thread: threading.Thread) -> None:
        """``thread`` is stuck past its item's deadline: stop counting on it, replace it."""
        with self._lock:
            if thread not in self._workers:
                return
            self._workers.remove(thread)
            self._abandoned.append(thread)
            self.abandoned_total += 1
            if not self._closed:
                self._fill()
        log.warning("%s is stuck in a tool past its timeout; it is left to finish", thread.name)

    def _work(self) -> None:
        me = threading.current_thread()
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            try:
                self._run_item(item)
            except BaseException:  # run_item reports its own failures; this is a last guard
                log.exception("a %s worker failed; it goes on", self._name)
            with self._lock:
                if me not in self._workers:
                    return  # abandoned meanwhile: a replacement took this one's place

    def close(self, deadline: Deadline) -> None:
        """Drop waiting items, stop the workers, join them until ``deadline``. Called again,
        it joins what is still running (a first close() that ran out of time or was
        interrupted is finished by the next one)."""
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            threads = workers + [t for t in self._abandoned if t.is_alive()]
        self._drop_waiting()
        for _ in workers:  # nothing is submitted any more: the queue holds only these
            try:
                self._queue.put(_STOP, timeout=deadline.remaining())
            except queue.Full:  # a queue smaller than the pool, and workers still busy
                break
        current = threading.current_thread()
        for thread in threads:
            if thread is not current:
                thread.join(deadline.remaining())
        stuck = [t.name for t in threads if t.is_alive() and t is not current]
        if stuck:
            log.warning(
                "tools still running after close(): %s end when their tools return; their "
                "results are dropped",
                ", ".join(stuck),
            )

    def _drop_waiting(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                self._on_dropped(item)


class DeadlineTimer(Generic[Item]):
    """One ``navtalk-tool-timer`` thread calling ``expire(item)`` at each item's deadline.

    Items done before their deadline (``is_done(item)``) are skipped when it comes, and purged
    whenever more than ``PURGE_AT`` wait, so a flood of quickly answered calls holds no memory.
    """

    PURGE_AT = 256

    def __init__(
        self,
        expire: Callable[[Item], None],
        is_done: Callable[[Item], bool],
        name: str = "navtalk-tool-timer",
    ) -> None:
        self._expire = expire
        self._is_done = is_done
        self._name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Item]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    def add(self, at: float, item: Item) -> None:
        """Call ``expire(item)`` at ``time.monotonic()`` ``at`` (unless closed first)."""
        with self._cond:
            if self._closed:
                return
            if len(self._heap) >= self.PURGE_AT:
                self._heap = [entry for entry in self._heap if not self._is_done(entry[2])]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (at, next(self._order), item))
            if self._thread is None:
                self._thread = LibraryThread(target=self._run, name=self._name)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._due():
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if self._closed:
                    return
                _, _, item = heapq.heappop(self._heap)
            if self._is_done(item):
                continue
            try:
                self._expire(item)
            except BaseException:  # expire reports its own failures; this is a last guard
                log.exception("expiring a tool call failed")

    def _due(self) -> bool:
        return bool(self._heap) and self._heap[0][0] <= time.monotonic()

    def close(self, deadline: Deadline) -> None:
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(deadline.remaining())

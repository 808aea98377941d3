"""Getting events to the user: the callback registry, the dispatcher thread, subscriptions.

The reader thread publishes every event here. From here an event goes

* to every matching ``Subscription`` (the queues behind ``events()``, ``wait_for()`` and
  ``ask()``, which block in the *caller's* thread), and
* to the dispatcher thread ``navtalk-dispatch``, which calls the matching callbacks one event
  at a time, in arrival order.

Bounds and overflow policy:

* The dispatcher queue holds ``maxsize`` events. Events are never dropped: when it is full the
  reader waits for room, so the socket backs up instead. Events the client itself publishes
  (state changes, which may come from inside a callback) never wait, so they may exceed the
  bound by a few.
* A callback that blocks holds back the callbacks after it (one dispatcher: arrival order is
  kept for every callback), but not the reader: it goes on reading the socket, answering
  pings and feeding subscriptions (``wait_for``/``events()``/``ask()`` in other threads hold
  their event at once, and return it once its callbacks have run) until ``maxsize`` events
  wait; only then does it pause. Each pause is counted and logged (at most once every
  ``logs.REPEAT_INTERVAL`` seconds) with the name of the callback that is holding things up.
* A subscription holds ``maxsize`` events. When its consumer falls that far behind, the
  subscription stops taking events and its next ``get()`` raises ``SubscriptionOverflow``:
  nothing is lost silently.

Order: a subscription sees an event as soon as the reader publishes it, but ``get()`` hands it
over only once the dispatcher has run every callback for it and for every event before it
(``wait_dispatched``), so a script that collects events in callbacks and then returns from a
blocking call finds them all collected. A slow callback therefore delays the return; on the
dispatcher thread itself (a blocking call inside a callback) there is no such wait, since it
would wait for itself.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import threading
import time
from typing import Any, Callable, Iterable, Iterator, cast

from . import user_code
from .errors import NavTalkError, NavTalkTimeout, NotConnected, SubscriptionOverflow, raised_again
from .events import CallbackFailure, Event
from .logs import RepeatLimiter, get_logger
from .threads import LibraryThread
from .timeouts import Deadline, check_seconds

__all__ = ["Handle", "Subscription", "EventBus"]

log = get_logger(__name__)

Callback = Callable[[Event], Any]

#: Put in the dispatcher queue by ``stop()``: wakes the dispatcher so it sees it must stop.
_WAKE = object()


def _matches(matcher: str | type[Event], event: Event) -> bool:
    if isinstance(matcher, str):
        return matcher == "*" or matcher == event.type
    return isinstance(event, matcher)


def _any_matches(matchers: Iterable[str | type[Event]], event: Event) -> bool:
    return any(_matches(m, event) for m in matchers)


class Handle:
    """What ``on()`` returns; pass it to ``off()`` to unregister the callback."""

    __slots__ = ("callback", "matcher")

    def __init__(self, matcher: str | type[Event], callback: Callback) -> None:
        self.matcher = matcher
        self.callback = callback

    def __repr__(self) -> str:
        what = self.matcher if isinstance(self.matcher, str) else self.matcher.__name__
        return f"<Handle {what!r} -> {user_code.callback_name(self.callback)}>"


class Subscription:
    """A bounded queue of the events matching ``matchers``, read from any thread.

    Iterating yields events until the session ends; ``get(timeout)`` returns the next one or
    raises ``NavTalkTimeout``, ``SubscriptionOverflow`` or, once the session has ended and the
    queue is empty, the error that ended it. Use it as a context manager, or call
    ``close()``, to stop receiving.
    """

    def __init__(self, bus: EventBus, matchers: tuple[str | type[Event], ...], maxsize: int):
        self._bus = bus
        self._matchers = matchers
        self._maxsize = maxsize
        self._items: collections.deque[tuple[int, Event]] = collections.deque()  # (number, event)
        self._cond = threading.Condition()
        self._end_error: NavTalkError | None = None
        self._ended = False
        self._overflowed = False

    # -- fed by the bus
    def _offer(self, event: Event, number: int) -> None:
        """``number``: the event's place in the bus's order (see ``EventBus.wait_dispatched``)."""
        if not _any_matches(self._matchers, event):
            return
        with self._cond:
            if self._ended or self._overflowed:
                return
            if len(self._items) >= self._maxsize:
                self._overflowed = True
            else:
                self._items.append((number, event))
            self._cond.notify_all()

    def _end(self, error: NavTalkError) -> None:
        with self._cond:
            if not self._ended:
                self._ended, self._end_error = True, error
                self._cond.notify_all()

    # -- read by the user
    def get(self, timeout: float | None = None) -> Event:
        """The next event, once every ``on()`` callback for it and for the events before it has
        returned. ``timeout=None`` waits until an event comes or the session ends;
        ``timeout=0`` takes one only if it is already here (and its callbacks have run)."""
        if timeout is not None:
            timeout = check_seconds(timeout, zero_ok=True)
        deadline = None if timeout is None else Deadline(timeout)
        with self._bus.waiting():
            number, event = self._next(deadline, timeout)
            if self._bus.wait_dispatched(
                number, None if deadline is None else deadline.remaining()
            ):
                return event
            with self._cond:
                self._items.appendleft((number, event))  # a later get() returns it
            raise NavTalkTimeout(f"the on() callbacks for {event.type} to return", timeout or 0.0)

    def _next(self, deadline: Deadline | None, timeout: float | None) -> tuple[int, Event]:
        with self._cond:
            while True:
                if self._items:
                    return self._items.popleft()
                if self._overflowed:
                    raise SubscriptionOverflow(
                        f"more than {self._maxsize} events waited unread in this subscription"
                    )
                if self._ended:
                    assert self._end_error is not None
                    raise raised_again(self._end_error)
                remaining = None if deadline is None else deadline.remaining()
                if remaining is not None and remaining <= 0:
                    raise NavTalkTimeout("an event", timeout or 0.0)
                self._cond.wait(remaining)

    def __iter__(self) -> Iterator[Event]:
        while True:
            try:
                yield self.get()
            except SubscriptionOverflow:
                raise
            except NavTalkError:
                if self._ended and not self._items:
                    return
                raise

    def close(self) -> None:
        self._bus._unsubscribe(self)
        with self._cond:
            self._items.clear()
            if not self._ended:
                self._ended = True
                self._end_error = NotConnected("this subscription was closed")
            self._cond.notify_all()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class EventBus:
    """Callbacks, subscriptions and the dispatcher thread of one client."""

    def __init__(self, maxsize: int, thread_name: str = "navtalk-dispatch") -> None:
        self._maxsize = maxsize
        self._thread_name = thread_name
        self._handlers: list[Handle] = []
        self._subscriptions: list[Subscription] = []
        # The dispatcher takes events without the lock: a SimpleQueue wakes it with one
        # futex call, where a Condition woke it into a lock the reader still held (about twice
        # the hand-off time). Everything that puts events holds ``_cond``, which keeps the
        # queue in the order subscriptions saw; ``_full()`` bounds it.
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._cond = threading.Condition()
        self._stopping = False
        self._released = False  # True once closing: the reader no longer waits for room
        self._room_wanted = False  # the reader waits for room: the dispatcher must say so
        self._dispatcher_waiting = 0
        self._ended_with: NavTalkError | None = None
        self._thread: threading.Thread | None = None
        # The order of events: each published event gets the next number; ``_dispatched`` is
        # the number of the last one whose callbacks have all returned.
        self._published = 0
        self._dispatched = 0
        self._dispatching_over = False  # no callback will run any more: nothing to wait for
        self._dispatched_cond = threading.Condition()
        self.delivered = 0
        self.callback_errors = 0
        self.discarded = 0
        self.max_depth = 0
        self.reader_waits = 0  # times the reader paused for room in the dispatcher queue
        self.reader_wait_seconds = 0.0
        self._running: tuple[Handle, float] | None = None  # the callback running, since when
        self._pause_warning = RepeatLimiter(log)

    # -- callbacks
    def add(self, matcher: str | type[Event], callback: Callback) -> Handle:
        handle = Handle(matcher, callback)
        with self._cond:
            self._handlers = [*self._handlers, handle]  # copy-on-write: dispatch reads lock-free
        return handle

    def remove(self, handle_or_callback: Handle | Callback) -> bool:
        with self._cond:
            kept = [
                h
                for h in self._handlers
                if h is not handle_or_callback and h.callback is not handle_or_callback
            ]
            removed = len(kept) != len(self._handlers)
            self._handlers = kept
        return removed

    # -- subscriptions
    def subscribe(self, matchers: tuple[str | type[Event], ...], maxsize: int) -> Subscription:
        sub = Subscription(self, matchers, maxsize)
        with self._cond:
            if self._ended_with is not None:
                sub._end(self._ended_with)
            else:
                self._subscriptions = [*self._subscriptions, sub]
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._cond:
            self._subscriptions = [s for s in self._subscriptions if s is not sub]

    def end_subscriptions(self, error: NavTalkError) -> None:
        """The session is over: every subscription, now and later, ends with ``error``."""
        with self._cond:
            if self._ended_with is None:
                self._ended_with = error
            subs, self._subscriptions = self._subscriptions, []
        for sub in subs:
            sub._end(error)

    # -- publishing
    def publish(self, event: Event, wait: bool = False) -> None:
        """Hand ``event`` to subscriptions and the dispatcher, in order.

        ``wait=True`` (the reader) waits while the dispatcher queue is full; the wait releases
        the lock, so the client can still publish from a callback meanwhile.
        """
        with self._cond:
            # Room first, then the number: the wait releases the lock, and an event published
            # meanwhile must not overtake this one in the order. A callback blocked in
            # wait_for() or ask() lifts the bound (``_full``), so it still gets its event.
            if wait and self._full() and not self._released:
                self._wait_for_room()
            self._published += 1
            number = self._published
            for sub in self._subscriptions:
                sub._offer(event, number)
            if self._stopping and self._thread is None:
                return
            self._queue.put((number, event))
            self.max_depth = max(self.max_depth, self._queue.qsize())

    @property
    def published(self) -> int:
        """The number of the last event published."""
        return self._published

    def wait_dispatched(self, number: int, timeout: float | None) -> bool:
        """Wait until the callbacks for event ``number`` and every event before it have
        returned; False if ``timeout`` passed first. On the dispatcher thread, and once the
        dispatcher has stopped, there is nothing to wait for."""
        if self.in_dispatcher():
            return True
        with self._dispatched_cond:
            return self._dispatched_cond.wait_for(
                lambda: self._dispatched >= number or self._dispatching_over, timeout
            )

    def _mark_dispatched(self, number: int | None) -> None:
        """``number`` dispatched; None: the dispatching is over (stopped, or never to start)."""
        with self._dispatched_cond:
            if number is None:
                self._dispatching_over = True
            else:
                self._dispatched = number
            self._dispatched_cond.notify_all()

    def _wait_for_room(self) -> None:
        """The reader pauses (under the lock, which the wait releases) until there is room."""
        self.reader_waits += 1
        started = time.monotonic()
        running = self._running
        if running is not None:
            handle, since = running
            self._pause_warning.warning(
                "%d events wait for callback %s (running for %.1f s): the reader pauses",
                self._queue.qsize(), user_code.callback_name(handle.callback), started - since,
            )  # fmt: skip
        # Raised before the queue is looked at again: a dispatcher taking an event from now on
        # sees it and wakes us (the timeout is only a safety net).
        self._room_wanted = True
        try:
            while self._full() and not self._released:
                self._cond.wait(0.1)
        finally:
            self._room_wanted = False
        self.reader_wait_seconds += time.monotonic() - started

    def _full(self) -> bool:
        # A callback that waits for later events (wait_for, ask) inside the dispatcher would
        # wait forever behind a reader that waits for it: the bound is lifted meanwhile.
        return self._queue.qsize() >= self._maxsize and not self._dispatcher_waiting

    @contextlib.contextmanager
    def waiting(self) -> Iterator[None]:
        """Mark a blocking wait; on the dispatcher thread it lets the reader run ahead."""
        if not self.in_dispatcher():
            yield
            return
        with self._cond:
            self._dispatcher_waiting += 1
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._dispatcher_waiting -= 1

    def release(self) -> None:
        """Closing: stop holding the reader back, so it can see the socket close and end."""
        with self._cond:
            self._released = True
            self._cond.notify_all()

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    def stats(self) -> dict[str, Any]:
        """The dispatcher's counters, as ``client.stats()`` shows them."""
        return {
            "dispatch_queue_depth": self.depth,
            "dispatch_queue_max_depth": self.max_depth,
            "dispatch_reader_waits": self.reader_waits,
            "dispatch_reader_wait_seconds": round(self.reader_wait_seconds, 3),
            "events_delivered": self.delivered,
            "callback_errors": self.callback_errors,
            "events_discarded_at_close": self.discarded,
        }

    # -- the dispatcher thread
    def start(self) -> None:
        with self._cond:
            if self._thread is not None or self._stopping:
                return
            self._thread = LibraryThread(target=self._run, name=self._thread_name)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._dispatch_until_stopped()
        finally:
            self._mark_dispatched(None)

    def _dispatch_until_stopped(self) -> None:
        while True:
            item = self._queue.get()
            if self._room_wanted:
                with self._cond:
                    self._cond.notify_all()  # room for the waiting reader
            if item is not _WAKE:
                number, event = cast("tuple[int, Event]", item)
                self._deliver(event, number)
                self._mark_dispatched(number)
            if self._stopping and self._queue.empty():
                return  # what was published before stop() is delivered

    def _deliver(self, event: Event, number: int) -> None:
        for handle in self._handlers:
            if _matches(handle.matcher, event):
                self._call(handle, event, number)
        self.delivered += 1

    def _call(self, handle: Handle, event: Event, number: int) -> None:
        self._running = (handle, time.monotonic())
        outcome = user_code.run(handle.callback, event)
        self._running = None
        if not isinstance(outcome, user_code.Failure):
            return
        self.callback_errors += 1  # even SystemExit: the dispatcher must outlive callbacks
        user_code.report(log, "callback", handle.callback, outcome, event.type)
        if isinstance(event, CallbackFailure):
            return  # an error handler that fails is only logged: no loops
        report = CallbackFailure(callback=user_code.callback_name(handle.callback),
                               error=outcome.error, event=event)  # fmt: skip
        with self._cond:
            for sub in self._subscriptions:
                sub._offer(report, number)  # dispatched with the event it is about
        for other in self._handlers:
            if _matches(other.matcher, report):
                self._call(other, report, number)

    def stop(self, deadline: Deadline) -> None:
        """Deliver what is queued until ``deadline``, then end the dispatcher thread.

        Called from inside a callback, it does not wait for itself: the thread ends once the
        running callback returns and the queue is drained. Past the deadline, what is still
        queued is discarded (counted) and a callback still running is left to return on its
        own; the thread then ends.
        """
        with self._cond:
            self._stopping = self._released = True
            self._cond.notify_all()
            thread = self._thread
            if thread is not None:
                self._queue.put(_WAKE)
        if thread is None:
            self._mark_dispatched(None)  # never started: no callback will run
            return
        if thread is threading.current_thread():
            return
        thread.join(deadline.remaining())
        if thread.is_alive():
            with self._cond:
                discarded = self._discard_queued()
                self.discarded += discarded
                # a dispatcher that saw events left and went back to get() must still wake
                with contextlib.suppress(queue.Full):
                    self._queue.put_nowait(_WAKE)
                if discarded:
                    log.warning("close(): %d undelivered events discarded", discarded)
            self._mark_dispatched(None)  # waiters must not wait for what was discarded
            log.warning(
                "a callback is still running after close(); its thread ends when it returns"
            )

    def _discard_queued(self) -> int:
        """Empty the dispatcher queue; how many events were in it. The dispatcher, busy in a
        callback, then finds the queue empty and ends."""
        discarded = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return discarded
            if item is not _WAKE:
                discarded += 1

    def in_dispatcher(self) -> bool:
        """True when called from a callback (on the dispatcher thread)."""
        return self._thread is threading.current_thread()

    def join(self, timeout: float) -> None:
        """Wait for the dispatcher thread to end (not from the dispatcher itself)."""
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

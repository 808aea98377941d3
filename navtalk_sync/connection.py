"""The client's link to the service across sessions: the current ``Session``, reconnection.

A ``Session`` is one WebSocket session and ends with it. The ``Connection`` outlives it: with a
``ReconnectPolicy`` it answers the session's "may a new session follow?" question, and, when a
ready session is lost for a reason a new one may cure, runs the attempts on a
``navtalk-reconnect`` thread: wait (backoff with jitter), reset the media for a fresh offer,
open a new session that replays the conversation's user turns, and report
``client.reconnecting`` / ``client.reconnected`` (or give up: ``ReconnectFailed``).

Meanwhile the waiters (``wait_for``, ``events()``) go on waiting, messages raise
``NotConnected`` and the user's audio is held by the uplink (its gate says "hold"), within
its bound. The counters of ended sessions are kept, so ``stats()`` covers them all.

Lock order: a session's lock may be held when the ``Connection``'s is taken (the retry
question comes from inside the session), never the other way round.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any, Callable, Mapping

import attrs

from .audio.uplink import AudioGate
from .config import Settings
from .dispatch import EventBus
from .errors import NavTalkError, NotConnected, ReconnectFailed
from .events import IceServer, Reconnected, Reconnecting
from .history import History
from .logs import get_logger
from .replies import ReplyTracker
from .rtc.media import AvatarMedia
from .session import READY_STATES, Session, State
from .threads import LibraryThread
from .timeouts import Deadline

__all__ = ["Connection"]

log = get_logger(__name__)

THREAD_NAME = "navtalk-reconnect"

#: Session counters that add up across sessions.
_SUMMED = (
    "events_received",
    "malformed_frames",
    "frames_sent",
    "bytes_sent",
    "frames_received",
    "bytes_received",
    "binary_frames_ignored",
    "pings_sent",
    "pongs_received",
    "frames_unsent",
)


class Connection:
    """The current session of a client, and the reconnection that replaces a lost one."""

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        media: AvatarMedia | None,
        history: History,
        replay_turns: Callable[[], tuple[str, ...]],
        replies: ReplyTracker,
    ) -> None:
        self._settings = settings
        self._policy = settings.reconnect
        self._bus = bus
        self._media = media
        self._history = history
        self._replay_turns = replay_turns
        self._replies = replies
        self._lock = threading.Lock()
        self._closing = False
        self._stop = threading.Event()  # wakes a reconnection waiting out its delay
        self._outage = False  # a reconnection is under way
        self._threads: list[threading.Thread] = []
        self._watchers: list[Callable[[], None]] = []
        self._totals: collections.Counter[str] = collections.Counter()  # of retired sessions
        self._retired: Session | None = None
        self._replayed = 0
        self._session = self._new_session(settings, State.IDLE)
        self.sessions = 1
        self.disconnects = 0
        self.reconnects = 0
        self.reconnect_attempts = 0
        self.last_downtime: float | None = None

    # ------------------------------------------------------------------ the current session

    @property
    def session(self) -> Session:
        return self._session

    @property
    def state(self) -> State:
        return self._session.state

    @property
    def session_id(self) -> str | None:
        return self._session.session_id

    @property
    def ice_servers(self) -> tuple[IceServer, ...]:
        return self._session.ice_servers

    @property
    def end_error(self) -> NavTalkError | None:
        session = self._session
        return None if session.retrying else session.end_error

    def open(self, timeout: float) -> None:
        """Open the first session (no retry: a failure here is raised, as configured)."""
        self._session.open(timeout)

    def send(self, message: Mapping[str, Any], timeout: float | None = None) -> None:
        """Send on the current session (``NotConnected`` while there is no ready one)."""
        self._session.send(message, timeout)

    def audio_gate(self) -> AudioGate:
        return self._session.audio_gate()

    def wait_backlog(self, frames: int, timeout: float) -> bool:
        return self._session.wait_backlog(frames, timeout)

    def add_state_watcher(self, watcher: Callable[[], None]) -> None:
        """Call ``watcher()`` on every state change of this and every later session."""
        with self._lock:
            self._watchers.append(watcher)
            session = self._session
        session.add_state_watcher(watcher)

    def _new_session(self, settings: Settings, initial_state: State) -> Session:
        self._replies.new_session()
        return Session(
            settings,
            self._bus,
            self._media,
            self._history,
            replies=self._replies,
            may_retry=self._may_retry,
            initial_state=initial_state,
        )

    # ------------------------------------------------------------------ reconnection

    def _may_retry(self, error: NavTalkError, was_ready: bool) -> Callable[[], None] | None:
        """Asked by a session as it ends (under its lock): will a new session follow? If so,
        returns what the session calls once its end is reported (see ``RetryHook``)."""
        policy = self._policy
        if policy is None:
            return None
        with self._lock:
            if self._closing or not policy.retries(error):
                self._outage = False  # what ends here ends the conversation
                return None
            if self._outage:
                return _nothing  # an attempt failed: the running reconnection decides what next
            if not was_ready:
                return None  # the first connect() raises instead
            self._outage = True
            self.disconnects += 1
            thread = LibraryThread(target=self._reconnect, args=(error,), name=THREAD_NAME)
        return lambda: self._start(thread)

    def _start(self, thread: threading.Thread) -> None:
        with self._lock:  # started and listed together, or not at all once closing
            if self._closing:
                self._outage = False
                return
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _reconnect(self, error: NavTalkError) -> None:
        """The attempts of one outage, on the ``navtalk-reconnect`` thread. Whatever goes
        wrong in them ends the outage with ``ReconnectFailed``: the waiters are never left
        waiting on a thread that died."""
        try:
            self._attempts(error)
        except BaseException as exc:
            log.exception("reconnecting failed")
            failure = NavTalkError(f"reconnecting failed: {type(exc).__name__}: {exc}")
            self._give_up(self.reconnect_attempts, failure, 0.0)

    def _attempts(self, error: NavTalkError) -> None:
        policy = self._policy
        assert policy is not None
        lost_at = time.monotonic()
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            delay = policy.delay(attempt)
            elapsed = time.monotonic() - lost_at
            if attempt > policy.max_attempts or elapsed + delay > policy.max_duration:
                self._give_up(attempt - 1, error, elapsed)
                return
            self._bus.publish(Reconnecting(attempt=attempt, delay=delay, error=error))
            if self._stop.wait(delay):
                return  # close(): it ends the conversation
            result = self._attempt()
            if isinstance(result, Session):
                self._reconnected(result, attempt, lost_at)
                return
            if result is None:
                return  # ended for good (closed, or an error no new session can cure)
            error = result

    def _attempt(self) -> Session | NavTalkError | None:
        """One new session: the ready session, the error to retry after, or None (the end)."""
        self.reconnect_attempts += 1
        self._retire(self._session)
        if self._media is not None:
            self._media.reset(Deadline(self._settings.timeouts.close))
        turns = self._replayable_turns()
        self._replayed = len(turns)
        settings = attrs.evolve(
            self._settings, history=turns, history_max_turns=None, greet_first=False
        )
        session = self._new_session(settings, State.RECONNECTING)
        with self._lock:
            if self._closing:
                return None
            self._session = session
            self.sessions += 1
            watchers = list(self._watchers)
        for watcher in watchers:
            session.add_state_watcher(watcher)
            watcher()  # the uplink looks at the new session's gate
        timeout = self._policy.attempt_timeout if self._policy else None
        try:
            session.open(timeout or self._settings.timeouts.connect)
        except NavTalkError as exc:
            return exc if session.retrying else None
        with self._lock:
            if session.retrying:  # lost again at once: the same outage goes on
                return session.end_error or NotConnected("the new session was lost")
            self._outage = False
        return session

    def _replayable_turns(self) -> tuple[str, ...]:
        """The user turns so far, as many as the send queue can take at setup (see Settings)."""
        turns = self._replay_turns()
        limit = self._settings.limits.send_queue // 2
        if self._settings.history_max_turns is not None:
            limit = min(limit, self._settings.history_max_turns)
        return turns[len(turns) - limit :] if len(turns) > limit else turns

    def _reconnected(self, session: Session, attempts: int, lost_at: float) -> None:
        downtime = time.monotonic() - lost_at
        self.reconnects += 1
        self.last_downtime = downtime
        log.info("reconnected after %d attempt(s), %.2f s without a session", attempts, downtime)
        self._bus.publish(
            Reconnected(
                attempts=attempts,
                downtime=downtime,
                session_id=session.session_id,
                replayed_turns=self._replayed,
            )
        )

    def _give_up(self, attempts: int, error: NavTalkError, elapsed: float) -> None:
        with self._lock:
            self._outage = False
            session = self._session
        failure = ReconnectFailed(
            f"the session was lost and {attempts} reconnection attempt(s) in {elapsed:.0f} s "
            f"did not get it back; last: {error}",
            attempts,
            error,
        )
        log.warning("%s", failure)
        self._retire(session)
        session.give_up(failure)

    def _retire(self, session: Session) -> None:
        """Join an ended session's socket threads and keep its counters."""
        session.retire(Deadline(self._settings.timeouts.close))
        stats = session.stats()
        with self._lock:
            if session is self._retired:
                return
            self._retired = session
            for key in _SUMMED:
                self._totals[key] += stats.get(key, 0)

    # ------------------------------------------------------------------ closing

    def close(self, deadline: Deadline) -> None:
        """End the conversation before ``deadline``: stop a reconnection, close the session,
        join the threads. Called again, it finishes what the first call left."""
        with self._lock:
            self._closing = True
            session = self._session
            threads = list(self._threads)
        self._stop.set()
        session.close(deadline.part(0.8))
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(deadline.remaining())
        with self._lock:
            latest = self._session
        if latest is not session:  # swapped in while we closed the one before
            latest.close(deadline)

    # ------------------------------------------------------------------ stats

    def stats(self) -> dict[str, Any]:
        """The current session's figures, counters summed over every session, reconnection."""
        session = self._session
        current = session.stats()
        with self._lock:
            totals = dict(self._totals)
            counted = session is self._retired
        for key in _SUMMED:
            current[key] = totals.get(key, 0) + (0 if counted else current.get(key, 0))
        current.update(
            sessions=self.sessions,
            disconnects=self.disconnects,
            reconnects=self.reconnects,
            reconnect_attempts=self.reconnect_attempts,
            reconnecting=self._outage,
            last_downtime=self.last_downtime,
            ready=current["state"] in {s.value for s in READY_STATES},
        )
        return current


def _nothing() -> None:
    pass

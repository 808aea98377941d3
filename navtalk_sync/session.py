"""The client side of one NavTalk session: its lifecycle (protocol.md#session-lifecycle).

A ``Session`` opens the socket, sends the opening configuration, reacts to the server's
setup events (session id, ICE servers, history replay, greet-first), tracks the state machine
(protocol.md#client-states) and ends the session on a failure notice or a close. Its reactions
run on the reader thread and are library code only; every event then goes to the ``EventBus``.
The rules it follows (which state comes next, when audio may flow, what an end means) are pure
functions in session_rules.py; this module does the I/O and the locking around them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Mapping

from . import messages
from .config import Settings, build_url
from .dispatch import EventBus
from .errors import (
    NOTICE_ERRORS,
    MediaError,
    NavTalkError,
    NavTalkTimeout,
    NotConnected,
)
from .events import (
    ConnectedSuccess,
    ConnectedWarning,
    ConnectionNotice,
    Event,
    IceServer,
    SessionCreated,
    SessionEnded,
    SessionUpdated,
    SignalingIceCandidate,
    SignalingOffer,
    SpeechStarted,
    StateChanged,
    decode_frame,
    parse_event,
)
from .history import History
from .logs import RepeatLimiter, get_logger
from .redaction import may_hold_secret, redact, redact_value
from .replies import ReplyTracker
from .rtc.media import AvatarMedia
from .session_rules import (
    READY_STATES,
    TERMINAL,
    AudioGate,
    State,
    ended_by,
    final_state,
    may_change,
    media_state,
    user_audio_gate,
)
from .timeouts import Deadline
from .transport import Transport

__all__ = ["READY_STATES", "State", "Session"]

log = get_logger(__name__)


#: ``may_retry(error, was_ready)``: asked once when a session ends with ``error``. None: this
#: is the end of the conversation. A function: a new session will follow; the session calls
#: it once it has reported its end (so the next session's events come after that report).
RetryHook = Callable[[NavTalkError, bool], "Callable[[], None] | None"]


class Session:
    """One WebSocket session against a NavTalk(-compatible) server."""

    def __init__(
        self,
        settings: Settings,
        bus: EventBus,
        media: AvatarMedia | None,
        history: History | None = None,
        *,
        replies: ReplyTracker,
        may_retry: RetryHook | None = None,
        initial_state: State = State.IDLE,
    ) -> None:
        self._settings = settings
        self._may_retry = may_retry
        self._initial_state = initial_state
        self._history = history  # fed from the reader (events) and the senders (messages)
        self._replies = replies  # fed from the reader, before anyone sees an event
        self._bus = bus
        self._media = media
        self._lock = threading.RLock()
        self._state = initial_state
        self._ready = threading.Event()  # set when ready or ended
        self._end_error: NavTalkError | None = None
        self._ended = False
        self._retrying = False  # ended, and a new session will follow
        self._closing = False
        self._greeted = False
        self._connected_seen = False
        self._history_replayed = False
        self._transport: Transport | None = None
        self.session_id: str | None = None
        self.ice_servers: tuple[IceServer, ...] = ()
        self.warning: ConnectedWarning | None = None
        self.malformed_frames = 0
        self._malformed = RepeatLimiter(log)
        self._reaction_failed = RepeatLimiter(log)
        self.events_received = 0
        self._state_watchers: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> State:
        return self._state

    @property
    def end_error(self) -> NavTalkError | None:
        """Why the session ended (None while it runs, or after a deliberate close)."""
        return self._end_error

    @property
    def retrying(self) -> bool:
        """Ended, with a new session to follow (reconnection): not the end of the conversation."""
        return self._retrying

    def add_state_watcher(self, watcher: Callable[[], None]) -> None:
        """Call ``watcher()`` after every state change (under the session's lock: it must
        only wake someone, never block or call back into the session)."""
        with self._lock:
            self._state_watchers.append(watcher)

    def audio_gate(self) -> AudioGate:
        """May the user's audio flow? ``OPEN``, ``HOLD`` (not yet) or ``ENDED``.

        Open once ``realtime.session.updated`` has arrived; with ``audio_wait_for_media``
        only while the avatar's media is connected too (the live state).
        """
        return user_audio_gate(
            self._state,
            retrying=self._retrying,
            ended=self._ended,
            wait_for_media=self._settings.audio.wait_for_media,
        )

    def _set_state(self, state: State, reason: str | None = None, ending: bool = False) -> None:
        with self._lock:
            previous = self._state
            if not may_change(previous, state, ended=self._ended, ending=ending):
                return
            self._state = state
            # Published under the lock so state events keep the order of the transitions.
            self._bus.publish(
                StateChanged(state=state.value, previous=previous.value, reason=reason)
            )
            for watcher in self._state_watchers:
                watcher()
        log.debug("state %s -> %s%s", previous.value, state.value, f" ({reason})" if reason else "")

    # ------------------------------------------------------------------ opening

    def open(self, timeout: float) -> None:
        """Connect and block until ``realtime.session.updated`` (or raise why not).

        On failure the session is ended and its threads joined before the error is raised.
        """
        deadline = Deadline(timeout)
        transport = Transport(
            build_url(self._settings),
            on_text=self._on_text,
            on_end=self._on_end,
            send_queue_size=self._settings.limits.send_queue,
            ping_interval=self._settings.timeouts.ping_interval,
            ping_timeout=self._settings.timeouts.ping,
            max_message_size=self._settings.limits.max_message_size,
            network=self._settings.network,
        )
        with self._lock:
            if self._closing:
                raise NotConnected("the client was closed before connect()")
            self._transport = transport
        try:
            if self._media is not None:
                self._media.open(self._send_media, self._media_changed, self._media_failed)
            self._open(transport, deadline, timeout)
        except BaseException as exc:
            error = (
                exc if isinstance(exc, NavTalkError) else NavTalkError(f"connect() failed: {exc!r}")
            )
            self._end(None if self._closing else error, None, None)
            transport.close(Deadline(self._settings.timeouts.close))
            raise

    def _open(self, transport: Transport, deadline: Deadline, timeout: float) -> None:
        self._set_state(State.CONNECTING)
        log.info("connecting to %s", transport.display_url)
        transport.open(max(0.001, deadline.remaining()))
        # Sent in the open handler, before anything is received (protocol.md#session-open).
        settings = self._settings
        for message in messages.opening_messages(settings.voice, settings.prompt, settings.tools):
            transport.send(messages.encode(message), settings.timeouts.send)
        self._set_state(State.CONFIGURING)
        transport.start()
        if not self._ready.wait(deadline.remaining()):
            raise NavTalkTimeout("realtime.session.updated", timeout, f"state: {self._state.value}")
        if self._end_error is not None:
            raise self._end_error  # once per session: raising it again elsewhere makes a copy
        if self._state not in READY_STATES:
            raise NotConnected("the client was closed while connecting")

    # ------------------------------------------------------------------ sending

    def send(self, message: Mapping[str, Any], timeout: float | None = None) -> None:
        """Send one client message; the session must be ready."""
        if self._state not in READY_STATES or self._transport is None:
            raise NotConnected(self._not_ready_text())
        self._transport.send(
            messages.encode(message), self._settings.timeouts.send if timeout is None else timeout
        )
        self._count_request(message)
        if self._history is not None:
            self._history.observe_sent(message)

    def wait_backlog(self, frames: int, timeout: float) -> bool:
        """``Transport.wait_backlog`` of the current connection (True when there is none:
        nothing waits)."""
        transport = self._transport
        return transport.wait_backlog(frames, timeout) if transport is not None else True

    def _count_request(self, message: Mapping[str, Any]) -> None:
        if message.get("type") == messages.RESPONSE_CREATE:
            self._replies.asked()

    def _not_ready_text(self) -> str:
        if self._end_error is not None:
            return f"the session has ended: {self._end_error}"
        if self._state in TERMINAL:
            return "the client is closed"
        return f"the session is not ready yet (state: {self._state.value}); call connect() first"

    def _send_quietly(self, message: Mapping[str, Any]) -> None:
        """Send from the reader thread, where a full queue or a closed socket is not fatal."""
        transport = self._transport
        if transport is None:
            return
        try:
            transport.send(messages.encode(message), self._settings.timeouts.send)
            self._count_request(message)
        except NavTalkError as exc:
            log.warning("could not send %s: %s", message.get("type"), exc)

    # ------------------------------------------------------------------ reader-thread reactions

    def _on_text(self, text: str) -> None:
        try:
            frame = decode_frame(text)
        except ValueError as exc:
            self.malformed_frames += 1
            self._malformed.warning("skipped a malformed frame (%s): %s", exc, _preview(text))
            return
        if may_hold_secret(text):  # a server may echo the licence: hide it before anyone sees
            frame = redact_value(frame)
        event = parse_event(frame)
        self.events_received += 1
        if self._history is not None:
            self._guarded(self._history.observe, event)
        # before anyone can see the event: ask() counts on a reply that ended being counted
        self._guarded(self._replies.observe, event)
        self._bus.publish(event, wait=True)
        self._guarded(self._replies.published, event)
        self._guarded(self._react, event)

    def _guarded(self, step: Callable[[Event], None], event: Event) -> None:
        """One reaction to a frame: a bug it trips over costs that frame, not the session."""
        try:
            step(event)
        except Exception:
            self._reaction_failed.log(
                logging.ERROR, "reacting to %s failed", event.type, exc_info=True
            )

    def _react(self, event: Event) -> None:
        if isinstance(event, ConnectedSuccess):
            if self._connected_seen:  # a repeat changes nothing: not the id, not the state
                log.warning("ignored a repeated conversation.connected.success")
                return
            self._connected_seen = True
            self.session_id, self.ice_servers = event.session_id, event.ice_servers
            if self._state in (State.CONNECTING, State.CONFIGURING):  # not back from ready
                self._set_state(State.CONNECTED)
            if self._media is not None:
                self._media.start(event.ice_servers)
        elif isinstance(event, SignalingOffer) and self._media is not None:
            self._media.offer(event.sdp)
        elif isinstance(event, SignalingIceCandidate) and self._media is not None:
            self._media.candidate(event.candidate, event.sdp_mid, event.sdp_mline_index)
        elif isinstance(event, SpeechStarted) and self._media is not None:
            self._media.barge_in()
        elif isinstance(event, ConnectedWarning):
            self.warning = event
            log.warning("server warning: %s (avatar id %s)", event.message, event.avatar_id)
        elif isinstance(event, ConnectionNotice):
            error = NOTICE_ERRORS[event.type](event.message, event)
            self._end(error, code=None, reason=event.message)
        elif isinstance(event, SessionCreated) and not self._history_replayed:
            self._history_replayed = True  # once, however often the server says it
            self._replay_history()
        elif isinstance(event, SessionUpdated):
            with self._lock:
                self._set_state(State.SESSION_READY)
                self._media_changed()  # live at once when the media is up already
            self._ready.set()
            if self._settings.greet_first and not self._greeted:
                self._greeted = True
                self._send_quietly(messages.response_create())

    def _replay_history(self) -> None:
        """User turns go between session.created and session.updated (protocol.md#history-replay).

        Sent from the reader thread without waiting: Settings keeps them within half the send
        queue, which holds little else this early (the SDP answer, a few candidates).
        """
        transport = self._transport
        for turn in self._settings.replayed_history:
            if transport is None:
                return
            try:
                transport.send(messages.encode(messages.user_text_item(turn)), 0.1)
            except NavTalkError as exc:
                log.warning("history replay stopped: %s", exc)
                return

    # ------------------------------------------------------------------ media reactions

    def _send_media(self, message: Mapping[str, Any]) -> None:
        """Signaling from the rtc loop: a short wait for queue room, never send_timeout."""
        transport = self._transport
        if transport is None:
            raise NotConnected("no socket")
        transport.send(messages.encode(message), min(self._settings.timeouts.send, 2.0))

    def _media_changed(self) -> None:
        """live = ready + media connected. Called under the media's lock (in order) and, from
        ``_react``, under the session's: it must read the media without taking its lock."""
        media = self._media
        if media is None:
            return
        with self._lock:
            reason = "media connected" if media.connected else f"media {media.state}"
            self._set_state(media_state(self._state, media.connected), reason)

    def _media_failed(self, error: MediaError) -> None:
        """With ``media_required``: a media failure ends the session."""
        self._end(error, None, None)

    def _on_end(self, code: int | None, reason: str | None, error: str | None) -> None:
        """The transport reports the end of the connection (reader thread, once)."""
        self._end(ended_by(code, reason, error, closing=self._closing), code, reason)

    # ------------------------------------------------------------------ ending

    def _end(self, error: NavTalkError | None, code: int | None, reason: str | None) -> None:
        """End the session once: report it, wake every waiter, let the socket go.

        When the owner's ``may_retry`` takes the error on, the session goes to ``reconnecting``
        instead and its waiters go on waiting: a new session will serve them.
        """
        with self._lock:
            if self._ended:
                return
            self._ended = True
            self._end_error = error
            was_ready = self._state in READY_STATES or self._closing
            follow_up = None
            if error is not None and not self._closing and self._may_retry is not None:
                follow_up = self._may_retry(error, was_ready)
            self._retrying = follow_up is not None
            if self._retrying:
                self._set_state(State.RECONNECTING, str(error), ending=True)
                if was_ready:  # a failed attempt is reported by client.reconnecting instead
                    self._publish_disconnected(error, code, reason, reconnecting=True)
            else:
                self._finish(error, code, reason, was_ready)
        if follow_up is not None:
            follow_up()
        self._ready.set()
        if error is not None:
            log.warning("session ended: %s%s", error, " (reconnecting)" if self._retrying else "")
        if self._transport is not None:
            self._transport.request_close()  # the client closes itself (protocol.md#close-codes)

    def _finish(
        self, error: NavTalkError | None, code: int | None, reason: str | None, was_ready: bool
    ) -> None:
        """The end of the conversation: the final state, ``client.disconnected``, and every
        subscription ended (under the lock)."""
        after_ready = was_ready or self._initial_state == State.RECONNECTING
        final = final_state(error, after_ready=after_ready)
        self._set_state(final, str(error) if error else reason, ending=True)
        self._publish_disconnected(error, code, reason, reconnecting=False)
        self._bus.end_subscriptions(error or NotConnected("the client is closed"))

    def _publish_disconnected(
        self, error: NavTalkError | None, code: int | None, reason: str | None, reconnecting: bool
    ) -> None:
        self._bus.publish(
            SessionEnded(
                code=code,
                reason=reason,
                error=error,
                reconnecting=reconnecting,
            )
        )

    def give_up(self, error: NavTalkError | None) -> None:
        """No new session will follow after all (reconnection gave up, or ``close()``):
        end the conversation with ``error`` (None: closed by the user)."""
        with self._lock:
            if not self._retrying:
                return
            self._retrying = False
            self._end_error = error
            self._finish(error, None, None, was_ready=True)

    def close(self, deadline: Deadline) -> None:
        """Deliberate close before ``deadline``; joins the transport threads. Called again, it
        finishes what the first call left."""
        with self._lock:
            self._closing = True
            if not self._ended:
                self._set_state(State.CLOSING)
        if self._media is not None:
            self._media.close(deadline.part(0.5))
        transport = self._transport
        if transport is not None:
            transport.close(deadline)
        self._end(None, None, None)
        self.give_up(None)

    def retire(self, deadline: Deadline) -> None:
        """Join the socket's threads of a session that ended with ``retrying``; its media
        and waiters pass to the next session."""
        transport = self._transport
        if transport is not None:
            transport.close(deadline)

    # ------------------------------------------------------------------ stats

    def stats(self) -> dict[str, Any]:
        transport = self._transport
        return {
            "state": self._state.value,
            "events_received": self.events_received,
            "malformed_frames": self.malformed_frames,
            "send_queue_depth": transport.send_queue_depth if transport else 0,
            **(transport.stats.as_dict() if transport else {}),
        }


#: How much of a malformed frame is redacted to show its start (a licence is far shorter).
_PREVIEW_SCAN = 4096


def _preview(text: str) -> str:
    """The start of a frame for a log line, secrets hidden; not shown when escapes could spell
    one (a malformed frame cannot be decoded to find out)."""
    # hidden before it is cut: a licence cut in two would be hidden in neither half
    start = redact(text[:_PREVIEW_SCAN])[:80]
    return "(not shown)" if "\\" in start else repr(start)

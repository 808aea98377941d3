"""The session's rules, apart from its socket and threads: which state follows, whether the
user's audio may flow, what error a lost connection is (protocol.md#client-states).

Pure functions of plain values, so the state machine can be read, and tested, as a table:
``Session`` (session.py) asks them and does what they say.
"""

from __future__ import annotations

import enum

from .errors import Disconnected, InsufficientBalance, NavTalkError

__all__ = [
    "AudioGate",
    "READY_STATES",
    "State",
    "TERMINAL",
    "ended_by",
    "final_state",
    "may_change",
    "media_state",
    "user_audio_gate",
]


class State(str, enum.Enum):
    """The connection states (protocol.md#client-states); compare with plain strings too."""

    IDLE = "idle"
    CONNECTING = "connecting"  # WebSocket handshake under way
    CONFIGURING = "configuring"  # socket open, opening configuration sent
    CONNECTED = "connected"  # conversation.connected.success received
    SESSION_READY = "session_ready"  # realtime.session.updated received: text and audio may flow
    LIVE = "live"  # session ready and the avatar's media (ICE) connected
    RECONNECTING = "reconnecting"  # the session was lost; a new one is being opened
    CLOSING = "closing"
    CLOSED = "closed"  # ended after it was ready, or closed by the user
    FAILED = "failed"  # ended before it became ready

    def __str__(self) -> str:
        return self.value


TERMINAL = (State.CLOSED, State.FAILED)
#: States in which the session takes messages.
READY_STATES = (State.SESSION_READY, State.LIVE)
#: The server's close reason when the account has run out (protocol.md#close-codes).
INSUFFICIENT_POINTS = "insufficient points"


class AudioGate(str, enum.Enum):
    """May the user's audio flow now? The session decides (``user_audio_gate``); the uplink
    (audio/uplink.py) obeys."""

    HOLD = "hold"  # not yet: keep the audio queued
    OPEN = "open"  # send
    ENDED = "ended"  # the session is over: nothing will be sent any more

    def __str__(self) -> str:
        return self.value


def may_change(previous: State, new: State, *, ended: bool, ending: bool) -> bool:
    """A move is made unless it changes nothing, leaves an end state, or comes from a frame
    read after the end (only the ending itself may move an ended session)."""
    return previous != new and previous not in TERMINAL and (ending or not ended)


def media_state(state: State, media_connected: bool) -> State:
    """Ready and live differ only by the avatar's media: live = ready + media connected."""
    if state == State.SESSION_READY and media_connected:
        return State.LIVE
    if state == State.LIVE and not media_connected:
        return State.SESSION_READY
    return state


def user_audio_gate(
    state: State, *, retrying: bool, ended: bool, wait_for_media: bool
) -> AudioGate:
    """Open once ``realtime.session.updated`` has arrived; with ``wait_for_media`` only while
    the avatar's media is connected too (live). Held while a new session is being opened."""
    if retrying:
        return AudioGate.HOLD  # the next session takes it
    if state in TERMINAL or state == State.CLOSING or ended:
        return AudioGate.ENDED
    if state == State.LIVE or (state == State.SESSION_READY and not wait_for_media):
        return AudioGate.OPEN
    return AudioGate.HOLD


def ended_by(
    code: int | None, reason: str | None, failure: str | None, *, closing: bool
) -> NavTalkError | None:
    """The error a connection's end means: None for a close the user asked for."""
    if closing:
        return None
    if reason and INSUFFICIENT_POINTS in reason.lower():
        return InsufficientBalance(reason)
    if failure is not None:
        return Disconnected(f"connection lost: {failure}", code, reason)
    detail = f", {reason}" if reason else ""
    return Disconnected(f"the server closed the connection (code {code}{detail})", code, reason)


def final_state(error: NavTalkError | None, *, after_ready: bool) -> State:
    """Closed after a session that was ready (or closed by the user); failed before."""
    return State.CLOSED if after_ready or error is None else State.FAILED

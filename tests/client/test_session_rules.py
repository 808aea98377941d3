"""The session's rules as a table, without a socket: which state follows, whether the user's
audio may flow, what a lost connection means. The session itself, over a real socket, is in
test_session.py and test_reconnect.py."""

from __future__ import annotations

import pytest

from navtalk_sync.errors import Disconnected, InsufficientBalance, NavTalkError
from navtalk_sync.session_rules import (
    AudioGate,
    State,
    ended_by,
    final_state,
    may_change,
    media_state,
    user_audio_gate,
)


@pytest.mark.parametrize(
    ("previous", "new", "ended", "ending", "moves"),
    [
        (State.CONNECTING, State.CONFIGURING, False, False, True),
        (State.SESSION_READY, State.SESSION_READY, False, False, False),  # no change
        (State.CLOSED, State.CONNECTING, False, False, False),  # nothing leaves an end state
        (State.FAILED, State.CLOSED, True, True, False),
        (State.SESSION_READY, State.LIVE, True, False, False),  # a frame read after the end
        (State.SESSION_READY, State.RECONNECTING, True, True, True),  # the ending itself
    ],
)
def test_which_moves_are_made(previous, new, ended, ending, moves):
    assert may_change(previous, new, ended=ended, ending=ending) is moves


@pytest.mark.parametrize(
    ("state", "media_connected", "then"),
    [
        (State.SESSION_READY, True, State.LIVE),
        (State.LIVE, False, State.SESSION_READY),
        (State.LIVE, True, State.LIVE),
        (State.CONNECTED, True, State.CONNECTED),  # media before the session is ready: not live
        (State.CLOSING, False, State.CLOSING),
    ],
)
def test_live_is_ready_plus_connected_media(state, media_connected, then):
    assert media_state(state, media_connected) is then


@pytest.mark.parametrize(
    ("state", "retrying", "ended", "wait_for_media", "gate"),
    [
        (State.CONFIGURING, False, False, False, AudioGate.HOLD),
        (State.CONNECTED, False, False, False, AudioGate.HOLD),
        (State.SESSION_READY, False, False, False, AudioGate.OPEN),
        (State.SESSION_READY, False, False, True, AudioGate.HOLD),  # waits for ICE too
        (State.LIVE, False, False, True, AudioGate.OPEN),
        (State.RECONNECTING, True, True, False, AudioGate.HOLD),  # the next session takes it
        (State.CLOSING, False, False, False, AudioGate.ENDED),
        (State.SESSION_READY, False, True, False, AudioGate.ENDED),  # ended, state not moved yet
        (State.FAILED, False, True, False, AudioGate.ENDED),
    ],
)
def test_when_the_users_audio_may_flow(state, retrying, ended, wait_for_media, gate):
    assert (
        user_audio_gate(state, retrying=retrying, ended=ended, wait_for_media=wait_for_media)
        is gate
    )


def test_what_the_end_of_a_connection_means():
    assert ended_by(1000, "bye", None, closing=True) is None  # the user closed it

    broke = ended_by(None, None, "connection reset", closing=False)
    assert isinstance(broke, Disconnected) and "connection lost: connection reset" in str(broke)

    closed = ended_by(1011, "overloaded", None, closing=False)
    assert isinstance(closed, Disconnected)
    assert (closed.code, closed.reason) == (1011, "overloaded")
    assert "code 1011, overloaded" in str(closed)

    broke_account = ended_by(1000, "Insufficient points, top up", None, closing=False)
    assert isinstance(broke_account, InsufficientBalance)


@pytest.mark.parametrize(
    ("error", "after_ready", "state"),
    [
        (None, False, State.CLOSED),  # closed by the user, even before ready
        (NavTalkError("lost"), True, State.CLOSED),
        (NavTalkError("refused"), False, State.FAILED),
    ],
)
def test_how_a_session_ends(error, after_ready, state):
    assert final_state(error, after_ready=after_ready) is state

"""Reconnection: a lost session comes back as a new one, with the conversation's user turns."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import navtalk_sync as nt
from tests.helpers import client_for, wait_until

pytestmark = pytest.mark.timeout(60)


#: Quick retries for tests (the default policy starts at 0.5 s and gives up after 2 minutes).
QUICK = nt.ReconnectPolicy(first_delay=0.05, max_delay=0.2, max_attempts=5, max_duration=20)


def wait_reconnected(client: nt.NavTalkClient, count: int = 1) -> None:
    """Until the client has reconnected ``count`` times (no event to miss: a counter)."""
    wait_until(lambda: client.stats()["reconnects"] >= count, 15)


def test_the_policy_backs_off_with_bounded_jitter():
    policy = nt.ReconnectPolicy(first_delay=1, factor=2, max_delay=5, jitter=0.25)
    assert [policy.delay(n, lambda: 0.5) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]
    assert policy.delay(1, lambda: 0.0) == 0.75
    assert policy.delay(1, lambda: 1.0) == 1.25


@pytest.mark.parametrize(
    "error, retried",
    [
        (nt.Disconnected("dropped", None, None), True),
        (nt.Disconnected("going away", 1001, "restart"), True),
        (nt.Disconnected("closed", 1000, ""), False),
        (nt.GpuFull("busy"), True),
        (nt.BackendError("oops"), True),
        (nt.TransportError("refused"), True),
        (nt.NavTalkTimeout("realtime.session.updated", 5), True),
        (nt.ConnectionFailed("bad key"), False),
        (nt.ConnectionFailed("HTTP 503", status_code=503), True),
        (nt.ConnectionFailed("HTTP 401", status_code=401), False),
        (nt.InsufficientBalance("Insufficient points"), False),
        (nt.ConnectionLimitExceeded("too many"), False),
        (nt.ServerClosed("bye"), False),
        (nt.MediaError("ICE failed"), False),
    ],
)
def test_what_the_policy_retries(error, retried):
    assert nt.ReconnectPolicy.retries(error) is retried


def test_reconnect_settings_are_checked(server):
    with pytest.raises(nt.ConfigError, match="reconnect must be"):
        client_for(server, reconnect="yes")
    with pytest.raises(ValueError, match="max_attempts"):
        nt.ReconnectPolicy(max_attempts=0)
    assert client_for(server, reconnect=True).settings.reconnect == nt.ReconnectPolicy()


def test_a_dropped_session_comes_back_and_the_conversation_goes_on(server):
    with client_for(server, media=False, reconnect=QUICK) as client:
        client.connect(timeout=10)
        first_id = client.session_id
        assert client.ask("hello there", timeout=15)
        with client.events(("client.disconnected", "client.reconnecting",
                            "client.reconnected")) as sub:  # fmt: skip
            server.drop_connections()
            lost, retrying, back = sub.get(10), sub.get(10), sub.get(10)
        assert lost.type == "client.disconnected" and lost.reconnecting
        assert isinstance(lost.error, nt.Disconnected)
        assert (retrying.type, retrying.attempt) == ("client.reconnecting", 1)
        assert back.type == "client.reconnected" and back.attempts == 1
        assert back.replayed_turns == 1
        assert client.state == "session_ready" and client.session_id != first_id
        # the new session was told what the user said before
        second = server.connections[-1].id
        replayed = server.messages("conversation.item.create", second)
        assert "hello there" in str(replayed[0].message)
        assert client.ask("are you still there?", timeout=15)
        stats = client.stats()
        assert (stats["sessions"], stats["reconnects"], stats["disconnects"]) == (2, 1, 1)
        assert stats["frames_received"] > 0
        said = [t.text for t in client.history if t.role == "user"]
        assert said == ["hello there", "are you still there?"]


def test_without_reconnect_a_drop_is_the_end(server):
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        with client.events("client.disconnected") as sub:
            server.drop_connections()
            lost = sub.get(10)
        assert not lost.reconnecting
        assert client.state == "closed"
        assert len(server.connections) == 1


@pytest.mark.parametrize(
    "kind, error",
    [
        ("fail", nt.ConnectionFailed),
        ("close", nt.ServerClosed),
        ("insufficient_balance", nt.InsufficientBalance),
        ("connection_limit_exceeded", nt.ConnectionLimitExceeded),
    ],
)
def test_final_notices_are_never_retried(server, kind, error):
    with client_for(server, media=False, reconnect=QUICK) as client:
        client.connect(timeout=10)
        with client.events("client.disconnected") as sub:
            server.send_notice(kind, "no")
            lost = sub.get(10)
        assert not lost.reconnecting and isinstance(lost.error, error)
        assert client.state == "closed" and isinstance(client.error, error)
        time.sleep(0.3)  # longer than QUICK's first delays: nothing may try again
        assert len(server.connections) == 1


@pytest.mark.parametrize("kind", ["gpu_full", "backend_error"])
def test_retryable_notices_reconnect(server, kind):
    with client_for(server, media=False, reconnect=QUICK) as client:
        client.connect(timeout=10)
        server.send_notice(kind, "later")
        wait_reconnected(client)
        assert client.stats()["reconnect_attempts"] == 1
        assert client.ask("back?", timeout=15)


def test_a_normal_close_by_the_server_is_not_retried(server):
    with client_for(server, media=False, reconnect=QUICK) as client:
        client.connect(timeout=10)
        with client.events("client.disconnected") as sub:
            server.close_connections(code=1000)
            assert not sub.get(10).reconnecting
        assert client.state == "closed"


def test_attempts_that_fail_are_retried_until_one_works(server):
    with client_for(server, media=False, reconnect=QUICK) as client:
        client.connect(timeout=10)
        attempts = []

        @client.on("client.reconnecting")
        def count(event):
            attempts.append(event)
            if event.attempt == 3:
                server.faults.setup_notice = None  # the third attempt gets a session

        server.faults.setup_notice = "gpu_full"
        with client.events("client.reconnected") as sub:
            server.drop_connections()
            back = sub.get(15)
        assert back.attempts == 3
        assert [a.attempt for a in attempts] == [1, 2, 3]
        assert isinstance(attempts[1].error, nt.GpuFull)  # why attempt 1 failed
        assert client.state == "session_ready"
        assert client.stats()["reconnect_attempts"] == 3


def test_giving_up_ends_the_conversation_with_reconnect_failed(server):
    policy = nt.ReconnectPolicy(first_delay=0.05, max_delay=0.1, max_attempts=2)
    with client_for(server, media=False, reconnect=policy) as client:
        client.connect(timeout=10)
        server.faults.setup_notice = "backend_error"
        with client.events("client.disconnected") as sub:
            server.drop_connections()
            assert sub.get(10).reconnecting
            final = sub.get(15)
        assert not final.reconnecting
        assert isinstance(final.error, nt.ReconnectFailed)
        assert final.error.attempts == 2 and isinstance(final.error.last_error, nt.BackendError)
        assert client.state == "closed" and isinstance(client.error, nt.ReconnectFailed)
        with pytest.raises(nt.ReconnectFailed):
            client.wait_for("realtime.response.audio.done", timeout=5)
        with pytest.raises(nt.NotConnected):
            client.send_text("anyone?")


def test_an_attempt_refused_for_good_stops_the_reconnection(server):
    with client_for(server, media=False, reconnect=QUICK) as client:
        client.connect(timeout=10)
        server.faults.setup_notice = "fail"
        server.drop_connections()
        final = client.wait_for(
            "client.disconnected", timeout=10, predicate=lambda e: not e.reconnecting
        )
        assert isinstance(final.error, nt.ConnectionFailed)
        assert client.state == "closed" and not client.stats()["reconnecting"]
        assert len(server.connections) == 2


def test_close_during_the_backoff_returns_promptly(server):
    slow = nt.ReconnectPolicy(first_delay=30, max_delay=30)
    client = client_for(server, media=False, reconnect=slow)
    client.connect(timeout=10)
    server.drop_connections()
    wait_until(lambda: client.state == "reconnecting", 10)
    started = time.monotonic()
    client.close(timeout=2)
    assert time.monotonic() - started < 5  # generous: the bound is close()'s own timeout
    assert client.state == "closed" and client.error is None
    assert not [t for t in threading.enumerate() if t.name == "navtalk-reconnect"]


def test_close_during_a_reconnection_attempt_that_hangs(server):
    with client_for(server, media=False, reconnect=QUICK) as client:
        client.connect(timeout=10)
        server.faults.stall_before_session_updated = True
        server.drop_connections()
        server.wait_for_connection(timeout=10, count=2)
        assert client.state in ("reconnecting", "connecting", "configuring", "connected")
        client.close(timeout=2)
        assert client.state == "closed"


def test_ask_during_a_drop_fails_at_once_and_works_after(server):
    server.faults.drop_mid_reply = True
    with client_for(server, media=False, reconnect=QUICK) as client:
        client.connect(timeout=10)
        with pytest.raises(nt.Disconnected):
            client.ask("tell me a story", timeout=15)
        server.faults.drop_mid_reply = False
        wait_reconnected(client)
        assert client.ask("tell me a story", timeout=15)


def test_wait_for_goes_on_waiting_across_a_reconnection(server):
    with client_for(server, media=False, reconnect=QUICK) as client:
        client.connect(timeout=10)
        got = []
        waiter = threading.Thread(
            target=lambda: got.append(client.wait_for("realtime.response.audio.done", 20))
        )
        waiter.start()
        server.drop_connections()
        wait_reconnected(client)
        client.send_text("hello again")
        waiter.join(25)
        assert got and got[0].type == "realtime.response.audio.done"


def test_audio_sent_while_disconnected_is_held_and_sent_after(server):
    slower = nt.ReconnectPolicy(first_delay=0.5, max_delay=0.5)
    with client_for(server, media=False, reconnect=slower) as client:
        client.connect(timeout=10)
        server.drop_connections()
        wait_until(lambda: client.state == "reconnecting", 10)
        tone = (np.sin(np.arange(24000) / 24000 * 2 * np.pi * 440) * 8000).astype(np.int16)
        client.send_audio(tone, 24000)  # while no session is up: held
        wait_reconnected(client)
        client.wait_audio_sent(timeout=10)
        second = server.connections[-1].id
        wait_until(lambda: len(server.received_audio(second)) >= tone.nbytes, 10)
        assert server.received_audio(second)[: tone.nbytes] == tone.tobytes()
        assert client.stats()["audio_chunks_dropped"] == 0


def test_the_media_comes_back_with_the_session(server, tmp_path):
    path = tmp_path / "across.mp4"
    with client_for(server, reconnect=QUICK, record=str(path)) as client:
        client.connect(timeout=10)
        client.wait_for_video(timeout=10)
        wait_until(lambda: client.state == "live", 10)
        seen = []
        client.on("client.media", lambda e: seen.append(e.state))
        server.drop_connections()
        wait_reconnected(client)
        # the callbacks' record, not the property: a property moves before its event's callbacks
        wait_until(lambda: seen[-1:] == ["flowing"], 15)
        assert client.media_state == "flowing" and client.state == "live"
        assert "idle" in seen
        frames = client.stats()["video_frames_received"]
        wait_until(lambda: client.stats()["video_frames_received"] > frames + 5, 10)
        summary = client.stop_recording(timeout=10)
    assert summary is not None and summary.video_frames > 0
    assert path.stat().st_size > 0


def test_a_tool_result_is_not_sent_to_a_session_that_did_not_ask(server):
    release = threading.Event()
    with client_for(server, media=False, reconnect=QUICK) as client:

        @client.tool
        def slow_lookup(order: str) -> str:
            """Look an order up."""
            release.wait(20)
            return "shipped"

        client.connect(timeout=10)
        server.send_event(
            {
                "type": "realtime.response.function_call_arguments.done",
                "data": {"function_name": "slow_lookup", "call_id": "c1",
                         "arguments": '{"order": "A-1"}'},
            }
        )  # fmt: skip
        wait_until(lambda: client.stats()["tool_calls"] == 1, 10)
        server.drop_connections()
        wait_reconnected(client)
        release.set()
        wait_until(lambda: client.stats()["tool_results_orphaned"] == 1, 10)
        second = server.connections[-1].id
        assert not [
            m
            for m in server.messages("conversation.item.create", second)
            if m.message["item"]["type"] == "function_call_output"
        ]


def test_a_reconnection_replays_only_the_latest_turns_it_is_allowed(server):
    with client_for(server, media=False, reconnect=QUICK, history_max_turns=1) as client:
        client.connect(timeout=10)
        client.ask("first question", timeout=15)
        client.ask("second question", timeout=15)
        server.drop_connections()
        wait_reconnected(client)
        told = server.messages("conversation.item.create", server.connections[-1].id)
        assert len(told) == 1 and "second question" in str(told[0].message)

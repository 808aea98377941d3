"""Every fault the local server can inject gives the documented outcome, with no hang or leak."""

from __future__ import annotations

import json
import logging
import socket
import threading

import pytest
import websocket

import navtalk_sync as nt
from navtalk_sync import events as ev
from navtalk_sync.server import LocalServer
from tests.helpers import client_for, wait_until

pytestmark = pytest.mark.timeout(30)

NOTICES = {
    "fail": nt.ConnectionFailed,
    "close": nt.ServerClosed,
    "insufficient_balance": nt.InsufficientBalance,
    "gpu_full": nt.GpuFull,
    "connection_limit_exceeded": nt.ConnectionLimitExceeded,
    "backend_error": nt.BackendError,
}


def assert_no_licence(server: LocalServer, *texts: str) -> None:
    for text in texts:
        assert server.license not in text and "sk_navtalk_" not in text


# ------------------------------------------------------------------ notices during setup


@pytest.mark.parametrize(
    "after_success", [False, True], ids=["instead-of-success", "after-success"]
)
@pytest.mark.parametrize("kind", sorted(NOTICES))
def test_setup_notice_raises_its_exception(server, kind, after_success):
    server.faults.setup_notice = kind
    server.faults.setup_notice_after_success = after_success
    client = client_for(server)
    with pytest.raises(NOTICES[kind]) as info:
        client.connect(timeout=10)
    error = info.value
    assert isinstance(error, nt.ServerNotice)
    assert error.message  # the server's human text
    assert error.retryable == (kind in ("gpu_full", "backend_error"))
    assert isinstance(error.event, ev.ConnectionNotice)
    assert client.state == "failed"
    assert_no_licence(server, str(error), repr(error))


def test_notice_without_close_is_closed_by_the_client(server):
    server.faults.setup_notice = "gpu_full"
    server.faults.close_after_notice = False
    with pytest.raises(nt.GpuFull):
        client_for(server).connect(timeout=10)
    # the client closes the socket itself (protocol.md#close-codes): the server sees it go
    server.wait_for_connection()
    wait_until(lambda: not server.connections[0].open)


def test_bad_licence_is_a_connection_failure(server):
    client = nt.NavTalkClient("sk_navtalk_" + "x" * 32, avatar_name="navtalk.Leo", url=server.url)
    with pytest.raises(nt.ConnectionFailed) as info:
        client.connect(timeout=10)
    assert "licen" in info.value.message.lower()
    assert "sk_navtalk_" not in str(info.value)


def test_unknown_avatar_is_a_connection_failure(server):
    with pytest.raises(nt.ConnectionFailed, match="(?i)avatar"):
        client_for(server, avatar_name="nobody.here").connect(timeout=10)


def test_handshake_refused_over_http(server):
    server.faults.reject_http = 401
    with pytest.raises(nt.ConnectionFailed) as info:
        client_for(server).connect(timeout=10)
    assert info.value.status_code == 401
    assert "401" in str(info.value)
    assert_no_licence(server, str(info.value))


def test_nothing_listening_is_a_transport_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = nt.NavTalkClient(
        "sk_navtalk_" + "y" * 32, avatar_name="a", url=f"ws://127.0.0.1:{port}"
    )
    with pytest.raises(nt.TransportError) as info:
        client.connect(timeout=5)
    assert f"127.0.0.1:{port}" in str(info.value)
    assert "license=***" in str(info.value) and "yyyy" not in str(info.value)
    assert client.state == "failed"


def test_stall_before_session_updated_times_out(server):
    server.faults.stall_before_session_updated = True
    client = client_for(server)
    with pytest.raises(nt.NavTalkTimeout) as info:
        client.connect(timeout=1.0)
    assert "realtime.session.updated" in str(info.value)
    assert "state: connected" in str(info.value)
    assert client.state == "failed"


# ------------------------------------------------------------------ notices mid-session


@pytest.mark.parametrize("kind", sorted(NOTICES))
def test_mid_session_notice_is_an_event_and_a_closed_state(server, kind):
    with client_for(server) as client:
        client.connect(timeout=10)
        with client.events((ev.ConnectionNotice, "client.disconnected")) as sub:
            server.send_notice(kind, message=f"{kind} now")
            notice = sub.get(timeout=10)
            gone = sub.get(timeout=10)
        assert notice.type == f"conversation.connected.{kind}"
        assert notice.message == f"{kind} now"
        assert isinstance(gone, ev.SessionEnded)
        assert isinstance(gone.error, NOTICES[kind])
        assert client.state == "closed"
        assert isinstance(client.error, NOTICES[kind])
        with pytest.raises(nt.NotConnected, match=f"{kind} now"):
            client.send_text("still there?")


def test_a_waiting_ask_gets_the_notice_error():
    # a slow reply (0.2 s between deltas), so the notice lands in the middle of it
    with LocalServer(delta_interval=0.2) as server, client_for(server) as client:
        client.connect(timeout=10)
        with client.events(ev.ResponseTranscriptDelta) as deltas:
            client.send_text("tell me a long story please", respond=False)
            asker = threading.Thread(target=lambda: errors.append(_ask_error(client)))
            errors: list[BaseException | None] = []
            asker.start()
            deltas.get(timeout=10)  # the reply has started
            server.send_notice("insufficient_balance")
            asker.join(10)
    assert len(errors) == 1 and isinstance(errors[0], nt.InsufficientBalance)


def _ask_error(client: nt.NavTalkClient) -> BaseException | None:
    try:
        client.ask("and one more thing", timeout=10)
    except nt.NavTalkError as exc:
        return exc
    return None


def test_warning_mid_session_is_not_fatal(server):
    with client_for(server) as client:
        client.connect(timeout=10)
        with client.events(ev.ConnectedWarning) as sub:
            server.send_notice("warning", message="heads up", close=False)
            assert sub.get(timeout=10).message == "heads up"
        assert client.ask("still fine?", timeout=10) == "You said: still fine?"


def test_close_reason_insufficient_points(server):
    with client_for(server) as client:
        client.connect(timeout=10)
        with client.events("client.disconnected") as sub:
            server.close_connections(code=1000, reason="Insufficient points")
            gone = sub.get(timeout=10)
    assert isinstance(gone.error, nt.InsufficientBalance)
    assert gone.reason == "Insufficient points"


def test_insufficient_points_after_a_reply(server):
    server.faults.close_reason_after_reply = "Insufficient points"
    with client_for(server) as client:
        client.connect(timeout=10)
        with client.events("client.disconnected") as sub:
            assert client.ask("last words", timeout=10) == "You said: last words."
            assert isinstance(sub.get(timeout=10).error, nt.InsufficientBalance)


def test_plain_server_close_is_a_disconnect(server):
    with client_for(server) as client:
        client.connect(timeout=10)
        with client.events("client.disconnected") as sub:
            server.close_connections(code=1001, reason="going away")
            gone = sub.get(timeout=10)
    assert isinstance(gone.error, nt.Disconnected)
    assert (gone.code, gone.reason) == (1001, "going away")


def test_abrupt_drop_mid_reply(server):
    server.faults.drop_mid_reply = True
    with client_for(server) as client:
        client.connect(timeout=10)
        with pytest.raises(nt.Disconnected, match="connection lost|closed the connection"):
            client.ask("are you there?", timeout=10)
        assert client.state == "closed"


def test_abrupt_drop_between_turns(server):
    with client_for(server) as client:
        client.connect(timeout=10)
        with client.events("client.disconnected") as sub:
            server.drop_connections()
            gone = sub.get(timeout=10)
        assert isinstance(gone.error, nt.Disconnected)


def test_response_error_fails_ask_but_keeps_the_session(server):
    with client_for(server) as client:
        client.connect(timeout=10)
        server.faults.frames_before_reply = [
            json.dumps({"type": "realtime.response.error", "message": "Model request failed"})
        ]
        with client.events("realtime.response.audio.done") as reply_ends:
            with pytest.raises(nt.ResponseFailed, match="Model request failed"):
                client.ask("first", timeout=10)
            server.faults.frames_before_reply = []
            reply_ends.get(timeout=10)  # the first reply still comes to its end
        assert client.ask("second", timeout=10) == "You said: second."


# ------------------------------------------------------------------ odd frames


def test_malformed_binary_and_unknown_frames_are_survived(server):
    server.faults.frames_after_success = [
        "{not json",
        b"\x00\x01binary",
        json.dumps({"type": "webrtc.streaming.break", "data": {}}),
        "[1, 2, 3]",
        json.dumps({"no": "type"}),
    ]
    unknown: list[ev.Event] = []
    with client_for(server) as client:
        client.on(ev.UnknownEvent, unknown.append)
        client.connect(timeout=10)
        assert client.ask("still working?", timeout=10) == "You said: still working?"
        stats = client.stats()
    assert stats["malformed_frames"] == 2
    assert stats["binary_frames_ignored"] == 1
    assert [e.type for e in unknown] == ["webrtc.streaming.break", ""]


def test_legacy_event_names_are_mapped(server):
    server.faults.legacy_names = True
    types: list[str] = []
    with client_for(server) as client:
        client.on("*", lambda e: types.append(e.type))
        client.connect(timeout=10)
        assert client.ask("old style", timeout=10) == "You said: old style."
    assert "realtime.response.audio_transcript.delta" in types
    assert "realtime.response.audio_transcript.done" in types
    assert not any(t.startswith("response.") for t in types)


def test_legacy_gpu_full_name_raises_gpu_full(server):
    server.faults.legacy_names = True
    server.faults.setup_notice = "gpu_full"
    with pytest.raises(nt.GpuFull):
        client_for(server).connect(timeout=10)


# ------------------------------------------------------------------ the licence stays hidden


def test_websocket_trace_output_is_redacted(server, caplog):
    caplog.set_level(logging.DEBUG, logger="websocket")
    websocket.enableTrace(True, handler=logging.NullHandler())
    try:
        with client_for(server) as client:
            client.connect(timeout=10)
    finally:
        websocket.enableTrace(False)
    assert "license=***" in caplog.text  # the handshake request line was logged, redacted
    assert server.license not in caplog.text


# ------------------------------------------------------------------ a silent server


@pytest.mark.timeout(8)  # websocket-client's own close() would wait out its 10 s ping timeout
def test_close_returns_promptly_when_the_server_has_gone_silent(server):
    client = client_for(server)
    client.connect(timeout=10)
    server.freeze_connections()
    client.close(timeout=1.0)
    assert client.state == "closed"
    assert client.error is None  # a deliberate close, not a failure


def test_keepalive_notices_a_silent_server(server):
    with client_for(server, ping_interval=0.2, ping_timeout=0.3) as client:
        client.connect(timeout=10)
        with client.events("client.disconnected") as sub:
            server.freeze_connections()
            gone = sub.get(timeout=10)
    assert isinstance(gone.error, nt.Disconnected)
    assert "no pong within 0.3 s" in str(gone.error)


def test_keepalive_pings_are_answered_on_an_idle_connection(server):
    with client_for(server, ping_interval=0.1, ping_timeout=5) as client:
        client.connect(timeout=10)
        wait_until(lambda: client.stats()["pongs_received"] >= 2)
        assert client.state in ("session_ready", "live")  # live once the media connected

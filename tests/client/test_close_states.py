"""close() comes back, and leaves nothing running, in every state a client can be in.

How long it takes is measured in bench/close_latency.py; here a close() that does not come
back within a generous bound is a hang, and fails.
"""

from __future__ import annotations

import socket
import threading

import pytest

import navtalk_sync as nt
from tests.helpers import client_for, wait_until

pytestmark = pytest.mark.timeout(60)

#: A close() that has not returned by then is hung (its own budget is 1 s).
HUNG_AFTER = 15.0


def close_returns(client: nt.NavTalkClient, timeout: float = 1.0) -> None:
    closer = threading.Thread(target=client.close, args=(timeout,), name="test-closer")
    closer.start()
    closer.join(HUNG_AFTER)
    assert not closer.is_alive(), f"close() hung in state {client.state}"
    assert client.state in ("closed", "failed")


def connect_aside(client: nt.NavTalkClient) -> tuple[threading.Thread, list[BaseException]]:
    """connect() on its own thread (it blocks in the states under test)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            client.connect(timeout=30)
        except nt.NavTalkError as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, name="test-connect")
    thread.start()
    return thread, errors


def finish(thread: threading.Thread, errors: list[BaseException]) -> None:
    thread.join(HUNG_AFTER)
    assert not thread.is_alive(), "connect() did not return after close()"
    assert errors and isinstance(errors[0], nt.NotConnected), errors


def test_idle(server):
    close_returns(client_for(server))


def test_connecting_to_a_server_that_never_answers_the_handshake():
    with socket.socket() as listener:  # the kernel accepts; nobody ever answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        client = nt.NavTalkClient("sk_test", avatar_name="a", url=f"ws://127.0.0.1:{port}")
        thread, errors = connect_aside(client)
        wait_until(lambda: client.state == "connecting", 10)
        close_returns(client)
        finish(thread, errors)


def test_connected_waiting_for_session_updated(server):
    server.faults.stall_before_session_updated = True
    client = client_for(server)
    thread, errors = connect_aside(client)
    wait_until(lambda: client.state == "connected", 10)
    close_returns(client)
    finish(thread, errors)


def test_session_ready(server):
    client = client_for(server, media=False)
    client.connect(timeout=10)
    close_returns(client)
    wait_until(lambda: not any(c.open for c in server.connections), 10)


def test_live_with_a_recording_and_a_reply_under_way(server, tmp_path):
    client = client_for(server, record=str(tmp_path / "live.mp4"))
    client.connect(timeout=10)
    client.wait_for_video(timeout=10)
    client.send_text("a long answer please, with many words in it")
    client.wait_for("realtime.response.audio_transcript.delta", timeout=10)
    close_returns(client)
    assert (tmp_path / "live.mp4").stat().st_size > 0
    wait_until(lambda: not any(c.open for c in server.connections), 10)


def test_server_gone_silent(server):
    client = client_for(server, media=False)
    client.connect(timeout=10)
    server.freeze_connections()
    close_returns(client)


def test_reconnecting_during_the_backoff(server):
    client = client_for(server, media=False, reconnect=nt.ReconnectPolicy(first_delay=30))
    client.connect(timeout=10)
    server.drop_connections()
    wait_until(lambda: client.state == "reconnecting", 10)
    close_returns(client)
    assert client.error is None


def test_reconnecting_during_an_attempt_that_hangs(server):
    quick = nt.ReconnectPolicy(first_delay=0.05)
    client = client_for(server, reconnect=quick)
    client.connect(timeout=10)
    server.faults.stall_before_session_updated = True
    server.drop_connections()
    server.wait_for_connection(timeout=10, count=2)
    wait_until(lambda: client.state == "connected", 10)
    close_returns(client)


def test_after_the_session_failed(server):
    client = client_for(server, media=False)
    client.connect(timeout=10)
    server.send_notice("backend_error")
    wait_until(lambda: client.state == "closed", 10)
    close_returns(client)
    assert isinstance(client.error, nt.BackendError)

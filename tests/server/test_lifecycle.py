"""Starting and stopping the server, and keeping its licence secret."""

from __future__ import annotations

import logging
import re
import threading

import pytest
import websocket

from navtalk_sync.server import (
    BrainRequest,
    LocalServer,
)
from tests.server.raw_client import (
    AUDIO_DONE,
    DELTA,
    FAIL,
    RESPONSE_CREATE,
    THREAD_NAME,
    UPDATED,
    reply_of,
    text_item,
)

pytestmark = pytest.mark.timeout(30)


def test_stop_closes_connections_and_joins_the_thread(connect):
    server = LocalServer().start()
    peer = connect(server)
    peer.until(UPDATED)
    stopping = threading.Thread(target=server.stop)
    stopping.start()
    assert peer.close_frame()[0] == 1001  # going away
    stopping.join()
    assert not [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]
    server.stop()  # idempotent
    with pytest.raises(RuntimeError):
        server.send_event({"type": "x"})
    with pytest.raises(RuntimeError):
        server.start()


def test_stop_with_a_client_that_never_reads(connect):
    server = LocalServer().start()
    connect(server)  # reads nothing, answers no close frame
    server.wait_for_connection()
    server.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]


def test_context_manager_and_generated_license():
    with LocalServer() as server:
        assert re.fullmatch(r"sk_navtalk_[A-Za-z0-9]{32}", server.license)
        assert server.port > 0 and str(server.port) in server.url
    assert not [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]
    assert LocalServer().license != LocalServer().license


def test_license_never_logged_or_shown(make_server, connect, caplog):
    caplog.set_level(logging.DEBUG)
    server = make_server(license="sk_navtalk_" + "S" * 32)
    assert "sk_***" in repr(server) and server.license not in repr(server)
    peer = connect(server)
    peer.until(UPDATED)
    peer.ask("hello")
    wrong = connect(server, license="sk_navtalk_" + "W" * 32)
    assert wrong.recv()["type"] == FAIL
    wrong.close_frame()
    infos = repr(server.connections)
    peer.ws.close()
    server.stop()
    assert server.license not in caplog.text and "W" * 32 not in caplog.text
    assert server.license not in infos and "W" * 32 not in infos
    assert "navtalk_sync.server" in caplog.text  # the server did log


def test_no_warnings_about_pending_tasks(connect, caplog):
    caplog.set_level(logging.DEBUG, logger="asyncio")
    server = LocalServer(delta_interval=0.2).start()
    peer = connect(server)
    peer.until(UPDATED)
    peer.send(text_item("a b c d e f g"))
    peer.send(RESPONSE_CREATE)
    assert peer.recv()["type"] == DELTA
    stopping = threading.Thread(target=server.stop)  # mid-reply
    stopping.start()
    while peer.frame()[0] != websocket.ABNF.OPCODE_CLOSE:
        pass
    peer.ws.shutdown()
    stopping.join()
    assert "was destroyed but it is pending" not in caplog.text
    assert "exception was never retrieved" not in caplog.text


def test_slow_brain_does_not_block_other_connections(make_server, connect):
    release = threading.Event()

    def brain(request: BrainRequest) -> str:
        if request.text == "slow":
            release.wait(5)
        return "done"

    server = make_server(brain=brain)
    slow, fast = connect(server), connect(server)
    slow.until(UPDATED)
    fast.until(UPDATED)
    slow.send(text_item("slow"))
    slow.send(RESPONSE_CREATE)
    assert reply_of(fast.ask("fast")) == "done"
    release.set()
    assert reply_of(slow.until(AUDIO_DONE)) == "done"

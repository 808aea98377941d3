"""Actions on live connections: notices, events, raw frames, closes and drops."""

from __future__ import annotations

import pytest
import websocket

from tests.server.raw_client import (
    UPDATED,
    reply_of,
    wait_closed,
)

pytestmark = pytest.mark.timeout(30)


def test_send_notice_then_close(server, session):
    assert server.send_notice("insufficient_balance", "Out of credit") == 1
    notice = session.recv()
    assert notice == {
        "type": "conversation.connected.insufficient_balance",
        "message": "Out of credit",
        "data": {"message": "Out of credit"},
    }
    assert session.close_frame() == (1000, "")
    wait_closed(server)


def test_send_notice_without_close(server, session):
    server.send_notice("warning", "Heads up", close=False)
    assert session.recv()["message"] == "Heads up"
    assert reply_of(session.ask("still open?")) == "You said: still open?"


def test_send_notice_rejects_unknown_kinds(server):
    with pytest.raises(ValueError, match="kind"):
        server.send_notice("success")


def test_send_event_and_send_raw(server, session):
    server.send_event({"type": "realtime.status", "data": {"state": "thinking"}})
    assert session.recv() == {"type": "realtime.status", "data": {"state": "thinking"}}
    server.send_raw("{malformed")
    server.send_raw(b"\x01\x02")
    assert session.frame() == (websocket.ABNF.OPCODE_TEXT, "{malformed")
    assert session.frame() == (websocket.ABNF.OPCODE_BINARY, b"\x01\x02")


def test_close_connections_with_reason(server, session):
    assert server.close_connections(reason="Insufficient points") == 1
    assert session.close_frame() == (1000, "Insufficient points")
    wait_closed(server)
    assert server.close_connections() == 0  # nothing open any more


def test_drop_connections(server, session):
    assert server.drop_connections() == 1
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        session.frame()
    wait_closed(server)


def test_actions_target_one_connection(server, connect):
    first, second = connect(server), connect(server)
    first.until(UPDATED)
    second.until(UPDATED)
    target = server.wait_for_connection(count=2)
    assert server.send_event({"type": "realtime.status", "data": {}}, connection_id=target.id) == 1
    assert second.recv()["type"] == "realtime.status"
    first.assert_silent(0.2)
    with pytest.raises(KeyError):
        server.send_event({"type": "x"}, connection_id=99)

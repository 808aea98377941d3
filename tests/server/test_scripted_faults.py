"""Faults scripted with ``Faults``: refusals, notices, stalls, drops, legacy names."""

from __future__ import annotations

import pytest
import websocket

from navtalk_sync import events
from navtalk_sync.server import (
    Faults,
)
from tests.server.raw_client import (
    CREATED,
    DELTA,
    NOTICE_KINDS,
    OFFER,
    RESPONSE_CREATE,
    SUCCESS,
    UPDATED,
    reply_of,
    text_item,
    types,
    wait_closed,
)

pytestmark = pytest.mark.timeout(30)


def test_reject_http(make_server):
    server = make_server(faults=Faults(reject_http=401))
    url = f"{server.url}?license={server.license}&name=navtalk.Leo"
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(url, timeout=5)
    assert caught.value.status_code == 401
    server.faults.reject_http = None  # read at the moment it matters
    websocket.create_connection(url, timeout=5).close()


@pytest.mark.parametrize("kind", NOTICE_KINDS)
def test_setup_notice_replaces_the_start(make_server, connect, kind):
    server = make_server(faults=Faults(setup_notice=kind))
    peer = connect(server)
    notice = peer.recv()
    assert notice["type"] == f"conversation.connected.{kind}"
    assert notice["message"] and notice["data"]["message"] == notice["message"]
    assert peer.close_frame()[0] == 1000
    assert server.wait_for_connection().session_id is None
    parsed = events.parse_event(notice)
    assert parsed.type == notice["type"] and parsed.message == notice["message"]


def test_setup_notice_after_success(make_server, connect):
    server = make_server(faults=Faults(setup_notice="gpu_full", setup_notice_after_success=True))
    peer = connect(server)
    assert [peer.recv()["type"], peer.recv()["type"]] == [
        SUCCESS,
        "conversation.connected.gpu_full",
    ]
    assert peer.close_frame()[0] == 1000


def test_notice_without_close_leaves_the_socket_open(make_server, connect):
    faults = Faults(setup_notice="backend_error", close_after_notice=False)
    server = make_server(faults=faults)
    peer = connect(server)
    assert peer.recv()["type"] == "conversation.connected.backend_error"
    peer.assert_silent(0.3)
    peer.send(text_item("anyone?"))
    assert server.wait_for_message("conversation.item.create").valid


def test_stall_before_session_updated(make_server, connect):
    server = make_server(faults=Faults(stall_before_session_updated=True), history_window=0.1)
    peer = connect(server)
    assert types([peer.recv(), peer.recv(), peer.recv()]) == [SUCCESS, OFFER, CREATED]
    peer.send(RESPONSE_CREATE)
    peer.assert_silent(0.4)
    assert server.wait_for_message("response.create").valid


def test_drop_mid_reply(make_server, connect):
    server = make_server(faults=Faults(drop_mid_reply=True))
    peer = connect(server)
    peer.until(UPDATED)
    peer.send(text_item("tell me a long story"))
    peer.send(RESPONSE_CREATE)
    assert peer.recv()["type"] == DELTA
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        peer.frame()  # no close frame: the connection is just gone
    wait_closed(server)


def test_legacy_names(make_server, connect):
    server = make_server(faults=Faults(legacy_names=True))
    peer = connect(server)
    peer.until(UPDATED)
    peer.send(text_item("old style"))
    peer.send(RESPONSE_CREATE)
    frames = peer.until("response.audio.done")
    assert set(types(frames[:-2])) == {"response.audio_transcript.delta"}
    assert types(frames[-2:]) == ["response.audio_transcript.done", "response.audio.done"]
    rid = frames[-1]["response_id"]
    assert all(f["response_id"] == rid and "data" not in f for f in frames)
    assert "".join(f["delta"] for f in frames[:-2]) == frames[-2]["transcript"]
    assert frames[-2]["transcript"] == "You said: old style."
    for frame in frames:
        assert frame["type"] in events.LEGACY_NAMES
    server.send_notice("gpu_full", close=False)
    server.send_notice("insufficient_balance", close=False)
    names = [peer.recv()["type"], peer.recv()["type"]]
    assert names == ["realtime.session.gpu_full", "realtime.session.insufficient_balance"]
    assert [events.canonical_type(n) for n in names] == [
        "conversation.connected.gpu_full",
        "conversation.connected.insufficient_balance",
    ]


def test_frames_after_success(make_server, connect):
    raw = ["{not json", b"\x00\x01binary", '{"type":"realtime.mystery","data":{}}']
    server = make_server(faults=Faults(frames_after_success=list(raw)))
    peer = connect(server)
    assert peer.recv()["type"] == SUCCESS
    assert [peer.frame()[1] for _ in raw] == raw
    assert types(peer.until(UPDATED)) == [OFFER, CREATED, UPDATED]


def test_frames_before_reply(make_server, connect):
    server = make_server()
    peer = connect(server)
    peer.until(UPDATED)
    server.faults.frames_before_reply = ["{broken", b"\xff"]
    peer.send(text_item("go"))
    peer.send(RESPONSE_CREATE)
    assert [peer.frame()[1], peer.frame()[1]] == ["{broken", b"\xff"]
    assert peer.recv()["type"] == DELTA


def test_close_reason_after_reply(make_server, connect):
    server = make_server(faults=Faults(close_reason_after_reply="Insufficient points"))
    peer = connect(server)
    peer.until(UPDATED)
    assert reply_of(peer.ask("last words")) == "You said: last words."
    assert peer.close_frame() == (1000, "Insufficient points")


def test_faults_are_validated():
    with pytest.raises(ValueError, match="setup_notice"):
        Faults(setup_notice="meltdown")
    faults = Faults()
    with pytest.raises(ValueError, match="reject_http"):
        faults.reject_http = 200
    assert faults == Faults()  # all off by default

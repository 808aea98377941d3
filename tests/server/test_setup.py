"""Opening a session: admission, the setup events and their order, avatars, licences."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import websocket

from navtalk_sync import events
from navtalk_sync.server import (
    DEFAULT_AVATARS,
    Avatar,
    LocalServer,
)
from tests.server.raw_client import (
    CREATED,
    FAIL,
    GREETING,
    OFFER,
    SUCCESS,
    UPDATED,
    WARNING,
    Peer,
    avatar_id,
    reply_of,
    text_item,
    types,
)

pytestmark = pytest.mark.timeout(30)


def test_happy_path_sends_success_created_updated_in_order(make_server, connect):
    server = make_server(
        ice_servers=[
            "stun:stun.example.net:3478",
            {"urls": "turn:turn.example.net:3478", "username": "u", "credential": "c"},
        ]
    )
    peer = connect(server)
    frames = peer.until(UPDATED)
    assert types(frames) == [SUCCESS, OFFER, CREATED, UPDATED]
    data = frames[0]["data"]
    assert uuid.UUID(data["sessionId"])
    assert data["iceServers"] == [
        {"urls": ["stun:stun.example.net:3478"]},
        {"urls": "turn:turn.example.net:3478", "username": "u", "credential": "c"},  # as given
    ]
    assert frames[2]["data"] == {} and frames[3]["data"] == {}
    info = server.wait_for_connection()
    assert info.session_id == data["sessionId"]
    assert (info.path, info.license_ok, info.avatar_name) == (
        "/wss/v2/realtime-chat",
        True,
        "navtalk.Leo",
    )
    assert info.avatar_id == avatar_id("navtalk.Leo") and info.open
    parsed = events.parse_event(frames[0])
    assert isinstance(parsed, events.ConnectedSuccess) and parsed.session_id == data["sessionId"]


def test_url_port_and_default_ice_servers(server, connect):
    assert server.url == f"ws://127.0.0.1:{server.port}/wss/v2/realtime-chat"
    assert connect(server).recv()["data"]["iceServers"] == []
    with pytest.raises(RuntimeError, match="not started"):
        LocalServer().url  # noqa: B018


def test_serve_forever_returns_when_stopped_from_another_thread(connect):
    server = LocalServer()
    serving = threading.Thread(target=server.serve_forever)
    serving.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            server.url  # noqa: B018 - known once listening
            break
        except RuntimeError:
            time.sleep(0.01)
    connect(server).until(UPDATED)
    server.stop()
    serving.join(5)
    assert not serving.is_alive()


def test_input_config_sent_on_open_is_recorded(server, connect):
    peer = connect(server)
    config = {"voice": "marin", "prompt": "Be brief."}
    peer.send({"type": "realtime.input_config", "data": {"content": json.dumps(config)}})
    assert types(peer.until(UPDATED)) == [SUCCESS, OFFER, CREATED, UPDATED]
    record = server.wait_for_message("realtime.input_config")
    assert record.valid and record.error is None and record.connection_id == 1
    assert json.loads(record.message["data"]["content"]) == config


def test_history_arrives_before_updated_in_order_and_is_not_answered(make_server, connect):
    server = make_server(history_quiet=0.3, history_window=2.0)
    peer = connect(server)
    peer.until(CREATED)
    history = ["first turn", "second turn", "third turn"]
    for text in history:
        peer.send(text_item(text))
    peer.until(UPDATED)
    recorded = server.messages("conversation.item.create")
    assert [m.message["item"]["content"][0]["text"] for m in recorded] == history
    # History turns are past questions: greet-first still greets.
    assert reply_of(peer.ask(None)) == GREETING


def test_history_wait_is_bounded_by_the_window(make_server, connect):
    server = make_server(history_quiet=5.0, history_window=0.2)
    peer = connect(server)
    peer.until(CREATED)
    started = time.monotonic()
    peer.until(UPDATED)
    assert time.monotonic() - started < 4.0  # the window, not the quiet period, ended it


def test_avatar_id_wins_over_name(server, connect):
    peer = connect(server, avatarId=avatar_id("navtalk.Emma"), name="navtalk.Leo")
    peer.until(UPDATED)
    info = server.wait_for_connection()
    assert (info.avatar_id, info.avatar_name) == (avatar_id("navtalk.Emma"), "navtalk.Emma")
    assert reply_of(peer.ask(None)) == "Hello, I am Emma. How can I help you today?"


def test_odd_names_are_percent_decoded(make_server, connect):
    odd = Avatar(id="0123456789abcdef0123456789abcdef", name="Anna & Co/ü", updated_at=1.0)
    server = make_server(avatars=[*DEFAULT_AVATARS, odd])
    peer = connect(server, name=odd.name)
    assert types(peer.until(UPDATED)) == [SUCCESS, OFFER, CREATED, UPDATED]
    info = server.wait_for_connection()
    assert info.avatar_id == odd.id and info.query["name"] == "Anna & Co/ü"
    assert info.query["license"] == "***"


def test_ambiguous_name_warns_with_the_most_recent_avatar(make_server, connect):
    twins = [
        Avatar(id="a" * 32, name="Twin", updated_at=1.0),
        Avatar(id="b" * 32, name="Twin", updated_at=5.0),
        Avatar(id="c" * 32, name="Twin", updated_at=3.0),
    ]
    server = make_server(avatars=twins)
    frames = connect(server, name="Twin").until(UPDATED)
    assert types(frames) == [SUCCESS, WARNING, OFFER, CREATED, UPDATED]
    warning = frames[1]
    assert warning["data"]["avatarId"] == "b" * 32
    assert "b" * 32 in warning["message"] and warning["data"]["message"] == warning["message"]
    assert server.wait_for_connection().avatar_id == "b" * 32
    parsed = events.parse_event(warning)
    assert isinstance(parsed, events.ConnectedWarning) and parsed.avatar_id == "b" * 32


@pytest.mark.parametrize(
    "license", [None, "sk_navtalk_" + "x" * 32, ""], ids=["missing", "wrong", "empty"]
)
def test_bad_license_fails_then_closes(server, connect, license):
    if license == "":
        peer = Peer(
            websocket.create_connection(server.url + "?license=&name=navtalk.Leo", timeout=5)
        )
    else:
        peer = connect(server, license=license)
    fail = peer.recv()
    assert fail["type"] == FAIL and fail["message"].startswith("License")
    assert fail["data"]["message"] == fail["message"]
    assert peer.close_frame() == (1000, "")
    info = server.wait_for_connection()
    assert not info.license_ok and info.session_id is None
    if license is not None:
        assert info.query["license"] == "***"
    peer.ws.close()


@pytest.mark.parametrize(
    "params",
    [{"name": "navtalk.Nobody"}, {"avatarId": "f" * 32}, {"model": "gpt-realtime"}],
    ids=["unknown-name", "unknown-id", "no-avatar"],
)
def test_unknown_or_missing_avatar_fails(server, connect, params):
    peer = connect(server, **params)
    fail = peer.recv()
    assert fail["type"] == FAIL and fail["message"].startswith("Avatar not found")
    assert peer.close_frame()[0] == 1000
    info = server.wait_for_connection()
    assert info.license_ok and info.avatar_id is None


def test_model_is_recorded(server, connect):
    connect(server, name="navtalk.Leo", model="transparency").until(UPDATED)
    assert server.wait_for_connection().model == "transparency"


def test_wrong_path_is_404(server):
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(server.url.replace("realtime-chat", "nope"), timeout=5)
    assert caught.value.status_code == 404

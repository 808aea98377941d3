"""The local NavTalk-compatible server, exercised over real loopback sockets.

A plain ``websocket-client`` connection plays the client, so these tests check the wire
contract (protocol.md#local-server and the sections it links to) without the library's own
client.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import struct
import threading
import time
import uuid
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import websocket
from hypothesis import given
from hypothesis import strategies as st

from navtalk_sync import events
from navtalk_sync.server import (
    DEFAULT_AVATARS,
    Avatar,
    BrainRequest,
    ConnectionInfo,
    Faults,
    LocalServer,
    ReceivedMessage,
    Reply,
    RuleBrain,
)
from navtalk_sync.server.frames import split_reply

pytestmark = pytest.mark.timeout(30)

SUCCESS = "conversation.connected.success"
WARNING = "conversation.connected.warning"
OFFER = "webrtc.signaling.offer"
FAIL = "conversation.connected.fail"
CREATED = "realtime.session.created"
UPDATED = "realtime.session.updated"
DELTA = "realtime.response.audio_transcript.delta"
DONE = "realtime.response.audio_transcript.done"
AUDIO_DONE = "realtime.response.audio.done"
ERROR = "realtime.response.error"
NOTICE_KINDS = [
    "fail",
    "close",
    "insufficient_balance",
    "gpu_full",
    "connection_limit_exceeded",
    "backend_error",
    "warning",
]
THREAD_NAME = "navtalk-local-server"
GREETING = "Hello, I am Leo. How can I help you today?"


# --------------------------------------------------------------------------- helpers


def avatar_id(name: str) -> str:
    return next(a.id for a in DEFAULT_AVATARS if a.name == name)


def text_item(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


RESPONSE_CREATE = {"type": "response.create"}


class Peer:
    """A raw test client: JSON in and out, frames read one at a time."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        if isinstance(message, bytes):
            self.ws.send_binary(message)
        elif isinstance(message, str):
            self.ws.send(message)
        else:
            self.ws.send(json.dumps(message))

    def frame(self) -> tuple[int, bytes | str]:
        """The next data frame or close frame: (opcode, payload)."""
        opcode, frame = self.ws.recv_data_frame(True)
        while opcode in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
            opcode, frame = self.ws.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return opcode, frame.data.decode("utf-8")
        return opcode, frame.data

    def recv(self) -> dict[str, Any]:
        """The next frame, which must be a JSON text frame."""
        opcode, payload = self.frame()
        assert opcode == websocket.ABNF.OPCODE_TEXT, f"expected a text frame, got {opcode}"
        return json.loads(payload)

    def until(self, event_type: str) -> list[dict[str, Any]]:
        """Frames up to and including the first of ``event_type``."""
        seen = []
        while True:
            seen.append(self.recv())
            if seen[-1]["type"] == event_type:
                return seen

    def close_frame(self) -> tuple[int, str]:
        """The next frame must be a close frame: (code, reason)."""
        opcode, payload = self.frame()
        assert opcode == websocket.ABNF.OPCODE_CLOSE, f"expected a close frame, got {payload!r}"
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        self.ws.shutdown()  # websocket-client answered the close; now end TCP like a real client
        return code, payload[2:].decode("utf-8")

    def assert_silent(self, seconds: float = 0.2) -> None:
        """Nothing arrives for a while (and the socket is still open)."""
        self.ws.settimeout(seconds)
        try:
            with pytest.raises(websocket.WebSocketTimeoutException):
                self.ws.recv_data_frame(True)
        finally:
            self.ws.settimeout(5)

    def ask(self, text: str | None) -> list[dict[str, Any]]:
        """Send an optional user text and response.create; the frames up to audio.done."""
        if text is not None:
            self.send(text_item(text))
        self.send(RESPONSE_CREATE)
        return self.until(AUDIO_DONE)


def types(frames: list[dict[str, Any]]) -> list[str]:
    return [f["type"] for f in frames]


def reply_of(frames: list[dict[str, Any]]) -> str:
    return next(f for f in frames if f["type"] == DONE)["data"]["content"]


@pytest.fixture
def connect():
    sockets: list[websocket.WebSocket] = []

    def open_peer(server: LocalServer, license: str | None = "", **params: str) -> Peer:
        query: dict[str, str] = {}
        if license is not None:
            query["license"] = license or server.license
        if not params:
            params = {"name": "navtalk.Leo"}
        query.update(params)
        url = server.url + "?" + urlencode(query, quote_via=quote)
        ws = websocket.create_connection(url, timeout=5)
        sockets.append(ws)
        return Peer(ws)

    yield open_peer
    for ws in sockets:
        ws.close(timeout=0.5)


@pytest.fixture
def session(server, connect) -> Peer:
    """A peer whose session is ready (session.updated received)."""
    peer = connect(server)
    peer.until(UPDATED)
    return peer


# --------------------------------------------------------------------------- session setup


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
        {"urls": ["turn:turn.example.net:3478"], "username": "u", "credential": "c"},
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


# --------------------------------------------------------------------------- client messages

PCM = base64.b64encode(b"\x00\x00\xff\xff\x01\x00").decode()
TOOL = {
    "type": "function",
    "name": "end_call",
    "description": "Hang up.",
    "parameters": {"type": "object", "properties": [], "required": []},  # JS SDK quirk
}
IMAGE = "data:image/jpeg;base64,/9j/4AAQSkZJRg=="

VALID_MESSAGES: list[dict[str, Any]] = [
    {
        "type": "realtime.input_config",
        "data": {"content": json.dumps({"voice": "cedar", "tools": [TOOL]})},
    },
    {"type": "realtime.input_config", "data": {"content": {"prompt": "Be kind."}}},
    {"type": "realtime.input_function_call", "data": {"content": json.dumps([TOOL])}},
    {"type": "realtime.input_function_call", "data": {"content": [TOOL]}},
    {
        "type": "session.update",
        "session": {
            "instructions": "Be brief.",
            "voice": "alloy",
            "turn_detection": {"type": "server_vad", "threshold": 0.5},
            "modalities": ["text", "audio"],
            "tools": [TOOL],
        },
    },
    text_item("hello"),
    {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "one"},
                {"type": "input_text", "text": "two"},
            ],
        },
    },
    {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "call_1", "output": '{"ok":true}'},
    },
    {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_image", "image_url": IMAGE}],
        },
    },
    {"type": "realtime.input_audio_buffer.append", "data": {"audio": PCM}},
    {"type": "realtime.input_audio_buffer.append", "data": {"audio": PCM, "sequenceNumber": 17}},
    {"type": "input_audio_buffer.append", "audio": PCM},
    {"type": "realtime.input_audio_buffer.commit", "data": {}},
    {"type": "realtime.input_audio_buffer.clear", "data": {}},
    {"type": "realtime.input_image", "data": {"content": IMAGE, "reply": 0}},
    # Answers must fit the server's real offer: their forms are checked in test_server_media.py.
    {
        "type": "webrtc.signaling.iceCandidate",
        "data": {
            "candidate": {
                "candidate": "candidate:1 1 UDP 2122260223 127.0.0.1 40123 typ host",
                "sdpMid": "0",
                "sdpMLineIndex": 0,
                "usernameFragment": "abcd",
            }
        },
    },
    {
        "type": "webrtc.signaling.iceCandidate",
        "data": {"candidate": "candidate:1 1 UDP 1 127.0.0.1 9 typ host"},
    },
    {"type": "realtime.function_call_output", "data": {"call_id": "call_2", "output": "done"}},
    {"type": "realtime.input_text", "data": {"text": "typed"}},
]


def test_every_client_form_is_accepted(server, session):
    for message in VALID_MESSAGES:
        session.send(message)
    frames = session.ask("final question")
    assert ERROR not in types(frames)
    assert reply_of(frames) == "You said: final question."
    refused = [(m.type, m.error) for m in server.received if not m.valid]
    assert refused == []
    assert len(server.messages(connection_id=1)) == len(VALID_MESSAGES) + 2


BAD_FRAMES: list[tuple[str, str | bytes]] = [
    ("not-json", "{oops"),
    ("json-array", "[1, 2]"),
    ("no-type", '{"data": {}}'),
    ("unknown-type", '{"type": "realtime.teleport", "data": {}}'),
    ("config-not-json", '{"type": "realtime.input_config", "data": {"content": "{nope"}}'),
    ("config-no-data", '{"type": "realtime.input_config"}'),
    ("tools-not-list", '{"type": "realtime.input_function_call", "data": {"content": "{}"}}'),
    (
        "audio-odd-bytes",
        json.dumps({"type": "realtime.input_audio_buffer.append", "data": {"audio": "AAAA"}}),
    ),
    ("audio-bad-base64", '{"type": "realtime.input_audio_buffer.append", "data": {"audio": "!!"}}'),
    ("audio-missing", '{"type": "realtime.input_audio_buffer.append", "data": {}}'),
    (
        "image-not-image",
        '{"type": "realtime.input_image", "data": {"content": "data:text/plain,hi"}}',
    ),
    (
        "image-bad-reply",
        json.dumps({"type": "realtime.input_image", "data": {"content": IMAGE, "reply": 2}}),
    ),
    (
        "answer-not-sdp",
        '{"type": "webrtc.signaling.answer", "data": {"sdp": {"type": "answer", "sdp": "x"}}}',
    ),
    ("candidate-null", '{"type": "webrtc.signaling.iceCandidate", "data": {"candidate": null}}'),
    (
        "item-empty",
        json.dumps(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": []},
            }
        ),
    ),
    ("item-no-item", '{"type": "conversation.item.create"}'),
    (
        "output-not-string",
        json.dumps(
            {
                "type": "conversation.item.create",
                "item": {"type": "function_call_output", "call_id": "c", "output": 1},
            }
        ),
    ),
    ("binary", b"\x00\x01\x02"),
]


@pytest.mark.parametrize(
    "raw", [raw for _, raw in BAD_FRAMES], ids=[name for name, _ in BAD_FRAMES]
)
def test_malformed_message_is_refused_and_session_goes_on(server, session, raw):
    session.send(raw)
    error = session.recv()
    assert error["type"] == ERROR
    assert error["data"]["code"] == "invalid_client_message"
    assert error["message"] == error["data"]["message"] and error["message"]
    (record,) = server.received
    assert not record.valid and record.error == error["message"] and record.raw == raw
    assert record.message is None or isinstance(record.message, dict)
    assert reply_of(session.ask("still there?")) == "You said: still there?"


# --------------------------------------------------------------------------- replies


def test_text_reply_streams_deltas_then_done_then_audio_done(session):
    frames = session.ask("Is breakfast included?")
    assert types(frames)[-2:] == [DONE, AUDIO_DONE]
    deltas = frames[:-2]
    assert len(deltas) >= 2 and set(types(deltas)) == {DELTA}
    done = frames[-2]["data"]
    assert "".join(d["data"]["content"] for d in deltas) == done["content"] == done["transcript"]
    assert done["content"] == "You said: Is breakfast included?"
    ids = {d["data"]["id"] for d in deltas} | {done["id"], frames[-1]["data"]["id"]}
    assert len(ids) == 1 and ids.pop().startswith("resp_")


def test_each_reply_has_its_own_id(session):
    first, second = session.ask("one"), session.ask("two")
    assert first[-1]["data"]["id"] != second[-1]["data"]["id"]


def test_greet_first(session):
    assert reply_of(session.ask(None)) == GREETING


def test_text_without_response_create_is_not_answered(session):
    session.send(text_item("a silent nudge"))
    session.assert_silent(0.2)
    assert reply_of(session.ask(None)) == "You said: a silent nudge."


def test_response_create_before_ready_is_queued(make_server, connect):
    server = make_server(history_quiet=0.2)
    peer = connect(server)
    peer.send(text_item("early bird"))
    peer.send(RESPONSE_CREATE)
    frames = peer.until(AUDIO_DONE)
    assert types(frames)[:4] == [SUCCESS, OFFER, CREATED, UPDATED]
    assert reply_of(frames) == "You said: early bird."


def test_image_with_reply_asks_for_an_answer(session):
    # IMAGE is a JPEG header without a frame: the server cannot read its size (see
    # tests/test_images.py for the answer that names the size of a real picture)
    session.send({"type": "realtime.input_image", "data": {"content": IMAGE, "reply": 1}})
    assert reply_of(session.until(AUDIO_DONE)) == "I could not make out that picture."


def test_brain_sees_config_history_and_avatar(make_server, connect):
    requests: list[BrainRequest] = []

    def brain(request: BrainRequest) -> Reply:
        requests.append(request)
        return Reply("noted")

    server = make_server(brain=brain)
    peer = connect(server, name="navtalk.Mia")
    peer.send(
        {
            "type": "realtime.input_config",
            "data": {"content": json.dumps({"voice": "sage", "prompt": "P"})},
        }
    )
    peer.until(UPDATED)
    assert reply_of(peer.ask("first")) == "noted"
    assert reply_of(peer.ask("second")) == "noted"
    assert requests[-1] == BrainRequest(
        text="second",
        history=("first", "second"),
        voice="sage",
        prompt="P",
        avatar_name="navtalk.Mia",
    )


def test_brain_may_return_a_plain_string(make_server, connect):
    server = make_server(brain=lambda request: "plain text")
    peer = connect(server)
    peer.until(UPDATED)
    assert reply_of(peer.ask("x")) == "plain text"


def test_brain_returning_none_gives_no_reply(make_server, connect):
    answers = iter([None, "second answer"])
    server = make_server(brain=lambda request: next(answers))
    peer = connect(server)
    peer.until(UPDATED)
    peer.send(RESPONSE_CREATE)
    frames = peer.ask("again")
    assert types(frames)[0] == DELTA and reply_of(frames) == "second answer"


def test_brain_raising_gives_an_error_and_the_session_goes_on(make_server, connect):
    calls = []

    def brain(request: BrainRequest) -> str:
        calls.append(request)
        if len(calls) == 1:
            raise ValueError("boom")
        return "recovered"

    server = make_server(brain=brain)
    peer = connect(server)
    peer.until(UPDATED)
    peer.send(text_item("hi"))
    peer.send(RESPONSE_CREATE)
    error = peer.recv()
    assert error["type"] == ERROR and "boom" in error["message"]
    assert error["data"]["code"] == "response_failed" and error["data"]["id"].startswith("resp_")
    assert reply_of(peer.ask("again")) == "recovered"


def test_delta_interval_spaces_the_deltas(make_server, connect):
    server = make_server(delta_interval=0.05)
    peer = connect(server)
    peer.until(UPDATED)
    started = time.monotonic()
    frames = peer.ask("one two three four")
    assert len([f for f in frames if f["type"] == DELTA]) == 6
    assert time.monotonic() - started >= 0.2  # five gaps of 0.05 s


# --------------------------------------------------------------------------- faults


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
    _wait_closed(server)


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


# --------------------------------------------------------------------------- live actions


def test_send_notice_then_close(server, session):
    assert server.send_notice("insufficient_balance", "Out of credit") == 1
    notice = session.recv()
    assert notice == {
        "type": "conversation.connected.insufficient_balance",
        "message": "Out of credit",
        "data": {"message": "Out of credit"},
    }
    assert session.close_frame() == (1000, "")
    _wait_closed(server)


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
    _wait_closed(server)
    assert server.close_connections() == 0  # nothing open any more


def test_drop_connections(server, session):
    assert server.drop_connections() == 1
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        session.frame()
    _wait_closed(server)


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


# --------------------------------------------------------------------------- records


def test_received_queries_and_waiting(server, session):
    session.send(text_item("one"))
    session.send({"type": "realtime.input_audio_buffer.append", "data": {"audio": PCM}})
    later = threading.Timer(0.1, session.send, args=(text_item("two"),))
    later.start()
    record = server.wait_for_message(
        "conversation.item.create",
        predicate=lambda m: m.message["item"]["content"][0]["text"] == "two",
    )
    later.join()
    assert isinstance(record, ReceivedMessage) and record.valid
    assert [m.type for m in server.received] == [
        "conversation.item.create",
        "realtime.input_audio_buffer.append",
        "conversation.item.create",
    ]
    assert len(server.messages("conversation.item.create", connection_id=1)) == 2
    assert server.messages(connection_id=2) == []
    times = [m.time for m in server.received]
    assert times == sorted(times)
    with pytest.raises(TimeoutError, match=r"response\.create"):
        server.wait_for_message("response.create", timeout=0.1)


def test_connections_are_listed_and_closed_ones_marked(server, connect):
    first = connect(server)
    first.until(UPDATED)
    connect(server, name="navtalk.Zoe").until(UPDATED)
    assert server.wait_for_connection(count=2).avatar_name == "navtalk.Zoe"
    first.ws.close()
    _wait_closed(server, connection_id=1)
    infos = server.connections
    assert [i.id for i in infos] == [1, 2] and all(isinstance(i, ConnectionInfo) for i in infos)
    assert [i.open for i in infos] == [False, True]
    with pytest.raises(TimeoutError):
        server.wait_for_connection(timeout=0.1, count=3)


def _wait_closed(server: LocalServer, connection_id: int = 1, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not next(c for c in server.connections if c.id == connection_id).open:
            return
        time.sleep(0.01)
    raise AssertionError(f"connection {connection_id} still open")


# --------------------------------------------------------------------------- lifecycle, secrets


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


# --------------------------------------------------------------------------- pure parts


@given(st.text())
def test_split_reply_concatenates_back(text):
    pieces = split_reply(text)
    assert "".join(pieces) == text
    assert all(piece for piece in pieces)


def test_split_reply_is_word_sized():
    assert split_reply("Hello there,  friend. ") == ["Hello ", "there,  ", "friend. "]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        (None, GREETING),
        ("   ", "Sorry, I did not catch that."),
        (
            "So, what can you do?",
            "I can chat with you, answer simple questions and repeat what you say.",
        ),
        ("What is your name?", "My name is Leo."),
        ("OK, bye!", "Goodbye! Have a nice day."),
        ("Hi there", "Hello! Nice to meet you."),
        ("  Is breakfast included?  ", "You said: Is breakfast included?"),
        ("sea view", "You said: sea view."),
    ],
)
def test_rule_brain(text, answer):
    reply = RuleBrain()(BrainRequest(text=text, avatar_name="navtalk.Leo"))
    assert reply == Reply(answer)


def test_open_server_accepts_any_licence_but_not_none(make_server, connect):
    server = make_server(accept_any_license=True)
    assert types(connect(server, license="anything-goes").until(UPDATED)) == [
        SUCCESS,
        OFFER,
        CREATED,
        UPDATED,
    ]
    fail = connect(server, license=None).recv()
    assert fail["type"] == FAIL and fail["message"].startswith("License missing")

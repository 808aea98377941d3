"""Every form of client message the server accepts, and what it refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.server.raw_client import (
    ERROR,
    IMAGE,
    PCM,
    TOOL,
    reply_of,
    text_item,
    types,
)

pytestmark = pytest.mark.timeout(30)


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

"""Client message builders: the recommended forms (protocol.md#client-messages)."""

from __future__ import annotations

import base64
import json

import pytest

from navtalk_sync import messages as m

TOOL = {
    "type": "function",
    "name": "end_call",
    "description": "Hang up when the visitor says goodbye.",
    "parameters": {
        "type": "object",
        "properties": {"reason": {"type": "string"}},
        "required": ["reason"],
    },
}


def test_input_config_content_is_a_json_string():
    msg = m.input_config(voice="marin", prompt="You are a concise museum guide.", tools=[])
    assert msg["type"] == "realtime.input_config"
    assert isinstance(msg["data"]["content"], str)
    assert json.loads(msg["data"]["content"]) == {
        "voice": "marin",
        "prompt": "You are a concise museum guide.",
    }


def test_opening_messages_never_send_both_tool_paths():
    assert m.opening_messages() == []
    only_tools = m.opening_messages(tools=[TOOL])
    assert [x["type"] for x in only_tools] == ["realtime.input_function_call"]
    assert json.loads(only_tools[0]["data"]["content"]) == [TOOL]
    with_voice = m.opening_messages(voice="cedar", tools=[TOOL])
    assert [x["type"] for x in with_voice] == ["realtime.input_config"]
    assert json.loads(with_voice[0]["data"]["content"]) == {"voice": "cedar", "tools": [TOOL]}
    assert [x["type"] for x in m.opening_messages(prompt="p")] == ["realtime.input_config"]


def test_text_item_and_response_create():
    assert m.user_text_item("Please speak a bit slower.") == {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user",
                 "content": [{"type": "input_text", "text": "Please speak a bit slower."}]},
    }  # fmt: skip
    assert m.response_create() == {"type": "response.create"}


def test_function_call_output_is_a_string():
    msg = m.function_call_output("call_1", {"booked": True})
    assert msg["item"] == {
        "type": "function_call_output",
        "call_id": "call_1",
        "output": '{"booked": true}',
    }
    assert m.function_call_output("c", "plain")["item"]["output"] == "plain"


def test_audio_append_and_transparency_controls():
    pcm = bytes(3072)
    msg = m.audio_append(pcm)
    assert msg["type"] == "realtime.input_audio_buffer.append"
    assert len(msg["data"]["audio"]) == 4096  # 1536 samples = exactly 4096 base64 chars
    assert base64.b64decode(msg["data"]["audio"]) == pcm
    with pytest.raises(ValueError):
        m.audio_append(b"\x00")
    assert m.audio_commit() == {"type": "realtime.input_audio_buffer.commit", "data": {}}
    assert m.audio_clear() == {"type": "realtime.input_audio_buffer.clear", "data": {}}


def test_image_and_signaling():
    assert m.input_image("data:image/jpeg;base64,AAAA", reply=True)["data"] == {
        "content": "data:image/jpeg;base64,AAAA", "reply": 1}  # fmt: skip
    with pytest.raises(ValueError):
        m.input_image("https://example.org/x.jpg")
    assert m.signaling_answer("v=0\r\n")["data"]["sdp"] == {"type": "answer", "sdp": "v=0\r\n"}
    assert m.signaling_offer("v=0\r\n")["data"]["sdp"]["type"] == "offer"
    cand = m.signaling_ice_candidate("candidate:1 1 udp 1 127.0.0.1 9 typ host", "0", 0, "abcd")
    assert cand["data"]["candidate"] == {
        "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0",
        "sdpMLineIndex": 0, "usernameFragment": "abcd"}  # fmt: skip


def test_every_builder_type_is_a_client_message_type():
    built = [
        m.input_config(voice="v"), m.input_function_call([TOOL]), m.user_text_item("x"),
        m.function_call_output("c", 1), m.response_create(), m.audio_append(b""),
        m.audio_commit(), m.audio_clear(), m.input_image("data:image/png;base64,"),
        m.signaling_answer("v=0"), m.signaling_offer("v=0"), m.signaling_ice_candidate("c", None, None),
    ]  # fmt: skip
    assert {b["type"] for b in built} == m.CLIENT_MESSAGE_TYPES
    for b in built:
        assert json.loads(m.encode(b)) == b

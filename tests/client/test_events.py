"""The event parser against every example payload of the protocol reference, and fuzzing."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from navtalk_sync import events as ev
from navtalk_sync.events import decode_frame, parse_event

SDP = "v=0\r\no=- 3950263420 3950263420 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\n"


def parse(text: str) -> ev.ServerEvent:
    return parse_event(decode_frame(text))


def test_connected_success_with_ice_servers():
    event = parse(
        """{"type":"conversation.connected.success","data":{
        "sessionId":"b7e2c9d0-4f1a-4c55-9d3e-2a61f0c8e114",
        "iceServers":[{"urls":["stun:stun.example.net:3478"]},
          {"urls":["turn:turn.example.net:3478?transport=udp","turn:turn.example.net:443?transport=tcp"],
           "username":"1767225600:b7e2c9d0","credential":"c2VjcmV0LXR1cm4tcGFzcw=="}]}}"""
    )
    assert isinstance(event, ev.ConnectedSuccess)
    assert event.session_id == "b7e2c9d0-4f1a-4c55-9d3e-2a61f0c8e114"
    assert [s.urls for s in event.ice_servers] == [
        ("stun:stun.example.net:3478",),
        ("turn:turn.example.net:3478?transport=udp", "turn:turn.example.net:443?transport=tcp"),
    ]
    assert event.ice_servers[1].username == "1767225600:b7e2c9d0"
    assert event.ice_servers[1].credential == "c2VjcmV0LXR1cm4tcGFzcw=="
    assert "c2VjcmV0" not in repr(event), "TURN credentials stay out of reprs"


def test_connected_success_variants():
    # urls as a single string (docs example), session id at the top level (iOS fallback)
    event = parse(
        '{"type":"conversation.connected.success","session_id":"s-1",'
        '"data":{"ice_servers":[{"urls":"stun:a.example:3478"},{"urls":42},"junk"]}}'
    )
    assert event.session_id == "s-1"
    assert [s.urls for s in event.ice_servers] == [("stun:a.example:3478",)]
    assert parse('{"type":"conversation.connected.success"}').ice_servers == ()


def test_warning_names_the_chosen_avatar():
    event = parse(
        '{"type":"conversation.connected.warning","message":"Several avatars are named '
        "'navtalk.Leo'; using the most recently updated one (3f1c0a9e5b7d4c2a9e8f6b1d0c3a5e7f).\","
        '"data":{"avatarId":"3f1c0a9e5b7d4c2a9e8f6b1d0c3a5e7f"}}'
    )
    assert isinstance(event, ev.ConnectedWarning)
    assert event.avatar_id == "3f1c0a9e5b7d4c2a9e8f6b1d0c3a5e7f"
    assert event.message.startswith("Several avatars")


@pytest.mark.parametrize(
    ("frame", "cls", "message"),
    [
        ('{"type":"conversation.connected.fail","message":"License not recognised"}',
         ev.ConnectedFail, "License not recognised"),
        ('{"type":"conversation.connected.close","message":"Session ended by server"}',
         ev.ConnectedClose, "Session ended by server"),
        ('{"type":"conversation.connected.insufficient_balance","data":{},"message":"Account balance exhausted"}',
         ev.InsufficientBalanceNotice, "Account balance exhausted"),
        ('{"type":"conversation.connected.gpu_full","data":{},"message":"No GPU capacity available, try again later"}',
         ev.GpuFullNotice, "No GPU capacity available, try again later"),
        ('{"type":"conversation.connected.connection_limit_exceeded","data":{},"message":"Concurrent connection limit (5) reached; close another session first"}',
         ev.ConnectionLimitExceededNotice, "Concurrent connection limit (5) reached; close another session first"),
        ('{"type":"conversation.connected.backend_error","data":{},"message":"Upstream model connection failed"}',
         ev.BackendErrorNotice, "Upstream model connection failed"),
        # message inside data (protocol.md#connection-notices), and legacy names
        # (protocol.md#legacy-names)
        ('{"type":"conversation.connected.fail","data":{"message":"in data"}}', ev.ConnectedFail, "in data"),
        ('{"type":"realtime.session.gpu_full","message":"busy"}', ev.GpuFullNotice, "busy"),
        ('{"type":"realtime.session.insufficient_balance"}', ev.InsufficientBalanceNotice, None),
        ('{"type":"session.gpu_full"}', ev.GpuFullNotice, None),
        ('{"type":"session.insufficient_balance"}', ev.InsufficientBalanceNotice, None),
        ('{"type":"session.backend.error","message":"x"}', ev.BackendErrorNotice, "x"),
    ],
)  # fmt: skip
def test_connection_notices(frame, cls, message):
    event = parse(frame)
    assert type(event) is cls
    assert event.type == cls.TYPE
    assert event.message == message


def test_retryable_notices():
    assert ev.GpuFullNotice.RETRYABLE and ev.BackendErrorNotice.RETRYABLE
    assert not ev.ConnectedFail.RETRYABLE and not ev.InsufficientBalanceNotice.RETRYABLE


def test_session_events():
    assert isinstance(parse('{"type":"realtime.session.created","data":{}}'), ev.SessionCreated)
    assert isinstance(parse('{"type":"realtime.session.updated","data":{}}'), ev.SessionUpdated)
    assert isinstance(parse('{"type":"realtime.session.updated","data":null}'), ev.SessionUpdated)
    assert isinstance(parse('{"type":"realtime.session.updated"}'), ev.SessionUpdated)
    created = parse('{"type":"realtime.session.created","data":{"sessionId":"t-9"}}')
    assert created.session_id == "t-9"


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "webrtc.signaling.offer", "data": {"sdp": {"type": "offer", "sdp": SDP}}},
        {"type": "webrtc.signaling.offer", "data": {"sdp": SDP}},
        {"type": "webrtc.signaling.offer", "data": {"offer": {"type": "offer", "sdp": SDP}}},
        {"type": "webrtc.signaling.offer", "data": {"sdp": SDP.replace("\r\n", "\n")}},
    ],
)
def test_offer_forms_and_crlf(frame):
    event = parse(json.dumps(frame))
    assert isinstance(event, ev.SignalingOffer)
    assert event.sdp == SDP
    assert "\n" not in event.sdp.replace("\r\n", "")


def test_answer_at_top_level_and_bad_sdp():
    answer = parse(
        json.dumps({"type": "webrtc.signaling.answer", "sdp": {"type": "answer", "sdp": SDP}})
    )
    assert isinstance(answer, ev.SignalingAnswer) and answer.sdp == SDP
    bad = parse('{"type":"webrtc.signaling.offer","data":{"sdp":"not an sdp"}}')
    assert isinstance(bad, ev.SignalingOffer) and bad.sdp is None


def test_ice_candidate_object_and_string():
    event = parse(
        '{"type":"webrtc.signaling.iceCandidate","data":{"candidate":{"candidate":'
        '"candidate:1 1 UDP 2122260223 203.0.113.7 40123 typ host","sdpMLineIndex":0,"sdpMid":"0"}}}'
    )
    assert event.candidate == "candidate:1 1 UDP 2122260223 203.0.113.7 40123 typ host"
    assert (event.sdp_mid, event.sdp_mline_index) == ("0", 0)
    bare = parse(
        '{"type":"webrtc.signaling.iceCandidate","data":{"candidate":"candidate:2 1 udp 1 127.0.0.1 9 typ host"}}'
    )
    assert bare.candidate == "candidate:2 1 udp 1 127.0.0.1 9 typ host" and bare.sdp_mid is None
    assert parse('{"type":"webrtc.signaling.iceCandidate","data":{}}').candidate is None


def test_speech_and_user_transcript():
    assert isinstance(
        parse('{"type":"realtime.input_audio_buffer.speech_started","data":{}}'), ev.SpeechStarted
    )
    assert isinstance(
        parse('{"type":"realtime.input_audio_buffer.speech_stopped","data":{}}'), ev.SpeechStopped
    )
    name = "realtime.conversation.item.input_audio_transcription.completed"
    assert (
        parse(f'{{"type":"{name}","data":{{"content":"Is breakfast included?"}}}}').text
        == "Is breakfast included?"
    )
    assert parse(f'{{"type":"{name}","data":{{"transcript":"alt"}}}}').text == "alt"
    assert parse(f'{{"type":"{name}","transcript":"top"}}').text == "top"
    assert parse(f'{{"type":"{name}","data":{{"text":"last"}}}}').text == "last"
    parts = parse(f'{{"type":"{name}","data":{{"content":[{{"text":"a "}},{{"content":"b"}}]}}}}')
    assert parts.text == "a b"
    assert parse(f'{{"type":"{name}","data":{{}}}}').text == ""
    legacy = parse(
        '{"type":"conversation.item.input_audio_transcription.completed","transcript":"v1"}'
    )
    assert legacy.type == name and legacy.text == "v1"


def test_reply_transcript_lookup_orders():
    delta = parse(
        '{"type":"realtime.response.audio_transcript.delta","data":{"id":"resp_8Kq2Xw1bT9","content":"Yes, breakfast is "}}'
    )
    assert (delta.text, delta.response_id) == ("Yes, breakfast is ", "resp_8Kq2Xw1bT9")
    alt = parse(
        '{"type":"realtime.response.audio_transcript.delta","data":{"delta":"a","response_id":"r2"}}'
    )
    assert (alt.text, alt.response_id) == ("a", "r2")
    camel = parse(
        '{"type":"realtime.response.audio_transcript.delta","data":{"delta":"b","responseId":"r3"}}'
    )
    assert camel.response_id == "r3"
    v1 = parse('{"type":"response.audio_transcript.delta","delta":"c","response_id":"r4"}')
    assert (v1.type, v1.text, v1.response_id) == (
        "realtime.response.audio_transcript.delta",
        "c",
        "r4",
    )
    done = parse(
        '{"type":"realtime.response.audio_transcript.done","data":{"id":"resp_8Kq2Xw1bT9","content":"Yes, breakfast is included from 7 to 10 am."}}'
    )
    assert done.text == "Yes, breakfast is included from 7 to 10 am."
    assert done.response_id == "resp_8Kq2Xw1bT9"
    assert (
        parse('{"type":"realtime.response.audio_transcript.done","data":{"transcript":"t"}}').text
        == "t"
    )
    assert parse('{"type":"response.audio_transcript.done","transcript":"v1"}').text == "v1"
    assert parse('{"type":"realtime.response.audio_transcript.done","data":{}}').text is None


def test_audio_events():
    delta = parse('{"type":"realtime.response.audio.delta","data":{"delta":"AAABAP7/AwD9/w=="}}')
    assert delta.audio == b"\x00\x00\x01\x00\xfe\xff\x03\x00\xfd\xff"
    assert parse('{"type":"realtime.response.audio.delta","delta":"AAA="}').audio == b"\x00\x00"
    assert parse('{"type":"realtime.response.audio.delta","data":{"delta":"!!"}}').audio == b""
    assert isinstance(
        parse('{"type":"realtime.response.audio.done","data":{}}'), ev.ResponseAudioDone
    )
    assert isinstance(parse('{"type":"realtime.response.audio.done"}'), ev.ResponseAudioDone)


def test_function_call_documented_shape():
    event = parse(
        '{"type":"realtime.response.function_call_arguments.done","data":{"call_id":"call_Q3n7Vb2LxR0p","arguments":"{\\"order_no\\":\\"A-1042\\"}"}}'
    )
    assert event.call_id == "call_Q3n7Vb2LxR0p"
    assert event.arguments == {"order_no": "A-1042"}
    assert event.name is None


def test_function_call_sdk_shape_with_raw_data():
    frame = {
        "type": "realtime.response.function_call_arguments.done",
        "data": {"function_name": "lookup_order", "call_id": "call_Q3n7Vb2LxR0p",
                 "arguments": {"order_no": "A-1042"}},
        "raw_data": {"type": "response.function_call_arguments.done", "event_id": "event_Zt8mPq0aL4xW",
                     "response_id": "resp_Ru6cY1nE2sKd", "item_id": "item_Hb9fJ3vT7oQa", "output_index": 0,
                     "call_id": "call_Q3n7Vb2LxR0p", "name": "lookup_order",
                     "arguments": "{\n  \"order_no\": \"A-1042\"\n}"},
    }  # fmt: skip
    event = parse(json.dumps(frame))
    assert (event.name, event.call_id) == ("lookup_order", "call_Q3n7Vb2LxR0p")
    assert event.arguments == {"order_no": "A-1042"}
    assert event.response_id == "resp_Ru6cY1nE2sKd"
    # older iOS shape: everything in raw_data
    only_raw = parse(json.dumps({"type": frame["type"], "data": {}, "raw_data": frame["raw_data"]}))
    assert (only_raw.name, only_raw.call_id, only_raw.arguments) == (
        "lookup_order", "call_Q3n7Vb2LxR0p", {"order_no": "A-1042"})  # fmt: skip


def test_function_call_bad_arguments_and_delta():
    event = parse(
        '{"type":"realtime.response.function_call_arguments.done","data":{"name":"f","callId":"c1","arguments":"{not json"}}'
    )
    assert (event.name, event.call_id, event.arguments, event.arguments_json) == (
        "f",
        "c1",
        None,
        "{not json",
    )
    delta = parse(
        '{"type":"realtime.response.function_call_arguments.delta","data":{"call_id":"c1","delta":"{\\"a"}}'
    )
    assert (delta.call_id, delta.delta) == ("c1", '{"a')


def test_names_only_events():
    assert isinstance(
        parse('{"type":"realtime.response.completed","data":{}}'), ev.ResponseCompleted
    )
    assert isinstance(parse('{"type":"response.done"}'), ev.ResponseCompleted)
    error = parse('{"type":"realtime.response.error","message":"Model request failed"}')
    assert error.message == "Model request failed"
    nested = parse('{"type":"error","error":{"message":"nested","code":"x"}}')
    assert (nested.type, nested.message, nested.code) == ("realtime.response.error", "nested", "x")
    status = parse('{"type":"realtime.status","data":{"state":"thinking"}}')
    assert status.data == {"state": "thinking"}


def test_unknown_types_are_events_not_errors():
    event = parse('{"type":"webrtc.streaming.break","data":{"x":1}}')
    assert type(event) is ev.UnknownEvent
    assert event.type == "webrtc.streaming.break" and event.raw["data"] == {"x": 1}
    assert type(parse('{"no_type":1}')) is ev.UnknownEvent
    assert type(parse('{"type":7}')) is ev.UnknownEvent


def test_every_documented_event_has_a_class():
    documented = {
        "conversation.connected.success", "conversation.connected.warning",
        "conversation.connected.fail", "conversation.connected.close",
        "conversation.connected.insufficient_balance", "conversation.connected.gpu_full",
        "conversation.connected.connection_limit_exceeded", "conversation.connected.backend_error",
        "realtime.session.created", "realtime.session.updated", "webrtc.signaling.offer",
        "webrtc.signaling.answer", "webrtc.signaling.iceCandidate",
        "realtime.input_audio_buffer.speech_started", "realtime.input_audio_buffer.speech_stopped",
        "realtime.conversation.item.input_audio_transcription.completed",
        "realtime.response.audio_transcript.delta", "realtime.response.audio_transcript.done",
        "realtime.response.audio.delta", "realtime.response.audio.done",
        "realtime.response.function_call_arguments.delta",
        "realtime.response.function_call_arguments.done",
        "realtime.response.completed", "realtime.response.error", "realtime.status",
    }  # fmt: skip
    assert set(ev.EVENT_TYPES) == documented
    for name in documented:
        assert name == type(parse_event({"type": name})).TYPE


def test_decode_frame_rejects_non_objects():
    for text in ("not json", "[1,2]", '"x"', "", "{"):
        with pytest.raises(ValueError):
            decode_frame(text)


# ------------------------------------------------------------------ property-based fuzzing

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
known_types = st.sampled_from(sorted(ev.EVENT_TYPES) + sorted(ev.LEGACY_NAMES) + ["x", ""])
field_names = st.sampled_from(
    ["data", "message", "raw_data", "transcript", "delta", "response_id", "sdp", "candidate",
     "session_id", "arguments", "name", "call_id", "error", "iceServers"]
)  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(
    event_type=known_types,
    fields=st.dictionaries(field_names, json_values, max_size=6),
    data=st.dictionaries(
        st.sampled_from(["content", "transcript", "id", "delta", "sdp", "offer", "candidate",
                         "arguments", "function_name", "call_id", "iceServers", "sessionId",
                         "message", "audio", "response_id"]),
        json_values, max_size=6),
)  # fmt: skip
def test_fuzz_structured_frames_never_raise(event_type, fields, data):
    frame = {"type": event_type, **fields}
    if data:
        frame["data"] = data
    event = parse_event(frame)
    assert isinstance(event, ev.ServerEvent)
    repr(event)
    if isinstance(event, ev.ResponseAudioDelta):
        assert isinstance(event.audio, bytes)


@settings(max_examples=1500, deadline=None)
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_fuzz_raw_text_never_crashes_decoder(text):
    try:
        frame = decode_frame(text)
    except ValueError:
        return
    assert isinstance(parse_event(frame), ev.ServerEvent)


def test_client_events_name_their_type_once():
    for name, cls in ev.CLIENT_EVENT_TYPES.items():
        assert name.startswith("client.")
        assert cls().type == cls.TYPE == name
    assert ev.Reconnecting(attempt=2).type == "client.reconnecting"


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("Disconnected", "SessionEnded"),
        ("CallbackError", "CallbackFailure"),
        ("ResponseError", "ResponseFailure"),
        ("ToolFailed", "ToolFailure"),
    ],
)
def test_old_event_names_still_import_with_a_deprecation_warning(old, new):
    with pytest.warns(DeprecationWarning, match=f"events.{old} is now events.{new}"):
        assert getattr(ev, old) is getattr(ev, new)
    assert not any(name.endswith(("Error", "Failed")) for name in ev.__all__)


def test_no_public_name_means_two_things():
    import navtalk_sync as nt
    from navtalk_sync import errors

    exceptions = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, BaseException)
    }
    assert not set(ev.__all__) & exceptions
    assert set(nt.__all__) & set(ev.__all__) <= {"Event"}  # one Event, the base class


def test_each_notice_exception_takes_its_name_and_retryability_from_its_event():
    from navtalk_sync.errors import NOTICE_ERRORS

    notices = {cls for cls in ev.EVENT_TYPES.values() if issubclass(cls, ev.ConnectionNotice)}
    assert {error.EVENT for error in NOTICE_ERRORS.values()} == notices - {ev.ConnectedWarning}
    for name, error in NOTICE_ERRORS.items():
        assert error.NOTICE == error.EVENT.TYPE == name
        assert error.retryable == error.EVENT.RETRYABLE

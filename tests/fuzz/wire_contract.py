"""What the wire layer promises about any input, as checks that both fuzzers share.

``tests/client/test_fuzz.py`` (hypothesis) and ``tests/fuzz/fuzz_wire.py`` (atheris) feed frames
through the functions below. A broken promise is an ``AssertionError``; an exception that no
promise allows is let through, so the fuzzer reports it as a crash.

The promises, from the modules' docstrings:

- ``events.decode_frame(text)``: the frame's JSON object, or ``ValueError``.
- ``events.parse_event(frame)``: never raises; a ``ServerEvent`` whose ``type`` is a str and
  whose ``raw`` is the frame. A known (or legacy) type gives its own class, never the
  ``UnknownEvent`` fallback (the session acts on ``event.type`` and trusts the class). Every
  field has its declared type; an SDP starts with ``v=`` and has CRLF line endings.
- ``validate.normalise(validate.decode(raw))``: a ``ClientMessage`` whose fields have their
  declared types and whose texts are valid Unicode (the server echoes them), or
  ``InvalidMessage`` with a reason the server can send back in a text frame (non-empty, UTF-8).

No pytest or hypothesis here: the atheris target imports this module on its own.
"""

from __future__ import annotations

import collections.abc
import functools
import json
import types
import typing
from typing import Any, Mapping

import attrs

from navtalk_sync import events
from navtalk_sync.server import validate

__all__ = [
    "check_event",
    "check_client_message",
    "parse_text_frame",
    "parse_client_frame",
    "normalise_client_message",
]

CLIENT_MESSAGE_CLASSES: tuple[type, ...] = typing.get_args(validate.ClientMessage)


# --------------------------------------------------------------------------- declared types


@functools.cache
def _field_hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {field.name: hints[field.name] for field in attrs.fields(cls)}


def conforms(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the type ``hint`` (the subset of typing the wire classes use)."""
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(conforms(value, arg) for arg in args)
    if origin is tuple:
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(conforms(item, args[0]) for item in value)
        return len(value) == len(args) and all(map(conforms, value, args))
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, dict if origin is dict else Mapping):
            return False
        key_hint, value_hint = args or (Any, Any)
        return all(conforms(k, key_hint) and conforms(v, value_hint) for k, v in value.items())
    if hint is int:  # bool is an int to Python, never to a wire field
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _check_fields(obj: Any) -> None:
    for name, hint in _field_hints(type(obj)).items():
        value = getattr(obj, name)
        assert conforms(value, hint), f"{type(obj).__name__}.{name} is {value!r}, not {hint}"


# --------------------------------------------------------------------------- client side


def check_event(event: Any, frame: Any) -> None:
    """``event`` is what ``parse_event(frame)`` promises."""
    assert isinstance(event, events.ServerEvent), f"not a ServerEvent: {event!r}"
    assert isinstance(event.type, str)
    _check_class(event, frame)
    _check_fields(event)
    repr(event)  # callbacks and logs print events
    _check_content(event)


def _check_class(event: events.ServerEvent, frame: Any) -> None:
    if not isinstance(frame, Mapping):
        assert type(event) is events.UnknownEvent and event.raw["value"] is frame
        return
    assert event.raw is frame, "raw is not the frame as received"
    wire_type = frame.get("type")
    known = (
        events.EVENT_TYPES.get(events.canonical_type(wire_type))
        if isinstance(wire_type, str)
        else None
    )
    if known is None:
        assert type(event) is events.UnknownEvent
        assert event.type == (wire_type if isinstance(wire_type, str) else "")
    else:
        assert type(event) is known, f"{wire_type!r} fell back to {type(event).__name__}"
        assert event.type == known.TYPE


def _check_content(event: events.ServerEvent) -> None:
    if isinstance(event, events.ConnectedSuccess):
        for server in event.ice_servers:
            _check_fields(server)
            assert server.urls and all(server.urls), f"an ICE server without a URL: {server!r}"
            json.dumps(server.to_dict())
    elif isinstance(event, events.SignalingOffer) and event.sdp is not None:
        sdp = event.sdp
        assert sdp.startswith("v="), f"not an SDP: {sdp[:40]!r}"
        bare = sdp.replace("\r\n", "")
        assert sdp.endswith("\r\n") and "\r" not in bare and "\n" not in bare, (
            f"SDP line endings are not all CRLF: {sdp[:80]!r}"
        )
    elif isinstance(event, events.SignalingIceCandidate):
        assert event.candidate is None or event.candidate, "an empty candidate is None"
    elif isinstance(event, events.ResponseAudioDelta):
        assert isinstance(event.audio, bytes)
    elif isinstance(event, events.FunctionCallArgumentsDone) and event.arguments is not None:
        assert isinstance(event.arguments, dict)
        assert isinstance(event.arguments_json, str), "decoded arguments without their text"


def parse_text_frame(text: str | bytes) -> events.ServerEvent | None:
    """A text frame through ``decode_frame`` and ``parse_event``, checked (None: refused)."""
    try:
        frame = events.decode_frame(text)
    except ValueError:
        return None
    assert isinstance(frame, dict), f"decode_frame returned {type(frame).__name__}"
    event = events.parse_event(frame)
    check_event(event, frame)
    return event


# --------------------------------------------------------------------------- server side


def check_client_message(message: Any) -> None:
    """``message`` is what ``validate.normalise`` promises."""
    assert isinstance(message, CLIENT_MESSAGE_CLASSES), f"not a ClientMessage: {message!r}"
    _check_fields(message)
    repr(message)
    if isinstance(message, validate.AudioAppend):
        assert message.size == len(message.pcm) and message.size % 2 == 0
        assert message.sequence_number is None or message.sequence_number >= 0
    elif isinstance(message, validate.ImageInput):
        assert message.data_url.startswith("data:image/") and "," in message.data_url
    elif isinstance(message, validate.SignalingSdp):
        assert message.kind in ("answer", "offer") and message.sdp.startswith("v=")
    elif isinstance(message, validate.IceCandidate):
        assert message.sdp_mline_index is None or message.sdp_mline_index >= 0
    elif isinstance(message, validate.ConversationItem):
        assert message.role in ("user", "assistant", "system") and message.images >= 0
    elif isinstance(message, validate.FunctionOutput):
        assert message.call_id, "a tool result without a call id"
    elif isinstance(message, validate.TextInput):
        assert message.text, "an empty text input"
    elif isinstance(message, validate.ConfigUpdate) and message.tools is not None:
        for tool in message.tools:
            assert isinstance(tool.get("name"), str) and tool["name"]
            parameters = tool.get("parameters")
            assert parameters is None or isinstance(parameters.get("properties", {}), dict)


def _check_refusal(error: validate.InvalidMessage) -> None:
    reason = error.reason
    assert isinstance(reason, str) and reason, "a refusal without a reason"
    reason.encode("utf-8")  # it goes back to the client in a text frame


def normalise_client_message(message: Any) -> validate.ClientMessage | None:
    """A decoded message through ``validate.normalise``, checked (None: refused)."""
    try:
        result = validate.normalise(message)
    except validate.InvalidMessage as exc:
        _check_refusal(exc)
        return None
    check_client_message(result)
    return result


def parse_client_frame(raw: str | bytes) -> validate.ClientMessage | None:
    """A client frame through ``validate.decode`` and ``normalise``, checked (None: refused)."""
    try:
        message = validate.decode(raw)
    except validate.InvalidMessage as exc:
        _check_refusal(exc)
        return None
    assert isinstance(message, dict), f"validate.decode returned {type(message).__name__}"
    result = normalise_client_message(message)
    if result is not None:  # its texts go into reply frames, logs and speech: Unicode only
        json.dumps(attrs.asdict(result, recurse=False), ensure_ascii=False, default=repr).encode()
    return result

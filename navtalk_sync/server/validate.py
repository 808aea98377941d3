"""Validating and normalising client messages (protocol.md#accepted-variants).

Pure: ``decode`` turns a frame into a JSON object, ``normalise`` turns that object into one of
the small attrs classes below; both raise ``InvalidMessage(reason)`` for anything the server
cannot accept. The server is tolerant in *form* (every variant official clients send) and strict
in *content* (a base64 that does not decode, an SDP that is not one, an unknown type).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Callable, Mapping

import attrs

from .. import messages

__all__ = [
    "InvalidMessage",
    "ClientMessage",
    "ConfigUpdate",
    "ConversationItem",
    "FunctionOutput",
    "ResponseCreate",
    "AudioAppend",
    "AudioCommit",
    "AudioClear",
    "ImageInput",
    "SignalingSdp",
    "IceCandidate",
    "TextInput",
    "ACCEPTED_TYPES",
    "decode",
    "normalise",
]

# Forms a tolerant server accepts besides the ones the client emits (messages.py), see
# protocol.md#accepted-variants.
SESSION_UPDATE = "session.update"  # Dec 2025 v2 apps, v1
LEGACY_AUDIO_APPEND = "input_audio_buffer.append"  # v1 / transparency docs
LEGACY_AUDIO_COMMIT = "input_audio_buffer.commit"
LEGACY_AUDIO_CLEAR = "input_audio_buffer.clear"
# Names only (protocol.md#names-only), accepted in these shapes:
FUNCTION_CALL_OUTPUT = "realtime.function_call_output"  # {data:{call_id,output}}
INPUT_TEXT = "realtime.input_text"  # {data:{text|content}}

#: Audio chunks above this size are accepted but logged (protocol.md#audio-append).
LARGE_AUDIO_BYTES = 1 << 20

#: A surrogate, escaped or not: half of a pair (fine) or alone (not Unicode).
_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")


class InvalidMessage(ValueError):
    """A client message the server refuses; ``reason`` is sent back to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@attrs.frozen
class ConfigUpdate:
    """``realtime.input_config``, ``realtime.input_function_call`` or ``session.update``.

    Fields left None were not given; ``tools`` is None when the message carried no tools.
    """

    source: str
    voice: str | None = None
    prompt: str | None = None
    tools: tuple[dict[str, Any], ...] | None = None


@attrs.frozen
class ConversationItem:
    """A ``conversation.item.create`` message item: its text parts joined by newlines."""

    role: str
    text: str | None
    images: int = 0


@attrs.frozen
class FunctionOutput:
    """A tool result (``function_call_output`` item or ``realtime.function_call_output``)."""

    call_id: str
    output: str


@attrs.frozen
class ResponseCreate:
    """``response.create``: answer now."""


@attrs.frozen
class AudioAppend:
    """One audio chunk: its decoded PCM16 bytes (an even count) and their size."""

    size: int
    pcm: bytes = attrs.field(default=b"", repr=False)
    sequence_number: int | None = None
    legacy: bool = False


@attrs.frozen
class AudioCommit:
    """End of an utterance (transparency mode)."""


@attrs.frozen
class AudioClear:
    """Drop the queued audio (transparency mode)."""


@attrs.frozen
class ImageInput:
    """``realtime.input_image``; ``reply`` asks for an answer now."""

    data_url: str = attrs.field(repr=False)
    reply: bool = False


@attrs.frozen
class SignalingSdp:
    """A client's SDP answer (or, for renegotiation, offer)."""

    kind: str
    sdp: str = attrs.field(repr=False)


@attrs.frozen
class IceCandidate:
    """One trickled client candidate ("" = end of candidates)."""

    candidate: str
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None


@attrs.frozen
class TextInput:
    """``realtime.input_text``: user text, treated like a user message item."""

    text: str


ClientMessage = (
    ConfigUpdate
    | ConversationItem
    | FunctionOutput
    | ResponseCreate
    | AudioAppend
    | AudioCommit
    | AudioClear
    | ImageInput
    | SignalingSdp
    | IceCandidate
    | TextInput
)


# --------------------------------------------------------------------------- helpers


def _json_kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidMessage(f"{where} must be an object, got {_json_kind(value)}")
    return value


def _data(msg: Mapping[str, Any], required: bool = True) -> dict[str, Any]:
    if "data" not in msg and not required:
        return {}
    return _object(msg.get("data"), "data")


def _string(value: Any, where: str, empty_ok: bool = False) -> str:
    if not isinstance(value, str) or (not value and not empty_ok):
        raise InvalidMessage(f"{where} must be a non-empty string")
    return value


def _optional_string(value: Any, where: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidMessage(f"{where} must be a string")
    return value


def _optional_int(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidMessage(f"{where} must be a non-negative integer")
    return value


def _content(data: Mapping[str, Any]) -> Any:
    """``data.content``: JSON text (what every source sends) or the value itself
    (protocol.md#accepted-variants)."""
    content = data.get("content")
    if isinstance(content, str):
        return _parse_json(content, "data.content")
    if content is None:
        raise InvalidMessage("data.content is missing")
    return content


def _tool(tool: Any, where: str) -> dict[str, Any]:
    tool = dict(_object(tool, where))
    if tool.get("type", "function") != "function":
        raise InvalidMessage(f"{where}.type must be 'function'")
    _string(tool.get("name"), f"{where}.name")
    params = tool.get("parameters")
    if params is None:
        return dict(tool)
    params = dict(_object(params, f"{where}.parameters"))
    props = params.get("properties")
    if isinstance(props, list) and not props:
        # the JS SDK sends [] for "no parameters" (protocol.md#accepted-variants)
        params["properties"] = {}
    elif props is not None:
        _object(props, f"{where}.parameters.properties")
    required = params.get("required")
    if required is not None and not (
        isinstance(required, list) and all(isinstance(r, str) for r in required)
    ):
        raise InvalidMessage(f"{where}.parameters.required must be a list of strings")
    tool["parameters"] = params
    return dict(tool)


def _tools(value: Any, where: str) -> tuple[dict[str, Any], ...] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidMessage(f"{where} must be a list of tools")
    return tuple(_tool(t, f"{where}[{i}]") for i, t in enumerate(value))


def _base64_pcm(value: Any, where: str) -> bytes:
    text = _string(value, where, empty_ok=True)
    try:
        pcm = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidMessage(f"{where} is not valid base64") from None
    if len(pcm) % 2:
        raise InvalidMessage(f"{where} decodes to {len(pcm)} bytes; PCM16 needs an even count")
    return pcm


def _data_url(value: Any, where: str) -> str:
    text = _string(value, where)
    if not text.startswith("data:image/") or "," not in text:
        raise InvalidMessage(f"{where} must be a data:image/<format>;base64,... URL")
    return text


def _sdp_text(value: Any, where: str, kind: str) -> str:
    if isinstance(value, dict):
        given = value.get("type")
        if given is not None and given != kind:
            raise InvalidMessage(f"{where}.type must be {kind!r}, got {given!r}")
        value = value.get("sdp")
        where = f"{where}.sdp"
    text = _string(value, where)
    if not text.startswith("v="):
        raise InvalidMessage(f"{where} is not an SDP (it must start with 'v=')")
    return text


def _parse_json(text: str, where: str) -> Any:
    """JSON text -> its value, with each lone surrogate (a ``\\ud800`` escape without its
    partner) replaced by U+FFFD as UTF-8 decoders do: the server echoes texts into frames, logs
    and speech, and none of them can hold one."""
    try:
        value = json.loads(text)
        if _SURROGATE.search(text):  # rare: only then can a string hold a lone surrogate
            unicode = json.dumps(value, ensure_ascii=False).encode("utf-16-le", "surrogatepass")
            value = json.loads(unicode.decode("utf-16-le", "replace"))
    except ValueError as exc:
        raise InvalidMessage(f"{where} is not valid JSON ({exc})") from None
    except RecursionError:
        raise InvalidMessage(f"{where} is nested too deeply") from None
    return value


# --------------------------------------------------------------------------- per type


def _input_config(msg: Mapping[str, Any]) -> ConfigUpdate:
    config = _object(_content(_data(msg)), "data.content")
    return ConfigUpdate(
        source=msg["type"],
        voice=_optional_string(config.get("voice"), "data.content.voice"),
        prompt=_optional_string(config.get("prompt"), "data.content.prompt"),
        tools=_tools(config.get("tools"), "data.content.tools"),
    )


def _input_function_call(msg: Mapping[str, Any]) -> ConfigUpdate:
    content = _content(_data(msg))
    if isinstance(content, dict) and "tools" in content:
        content = content["tools"]
    tools = _tools(content, "data.content")
    return ConfigUpdate(source=msg["type"], tools=tools)


def _session_update(msg: Mapping[str, Any]) -> ConfigUpdate:
    session = _object(msg.get("session"), "session")
    return ConfigUpdate(
        source=msg["type"],
        voice=_optional_string(session.get("voice"), "session.voice"),
        prompt=_optional_string(session.get("instructions"), "session.instructions"),
        tools=_tools(session.get("tools"), "session.tools"),
    )


def _message_item(item: Mapping[str, Any]) -> ConversationItem:
    role = item.get("role")
    if role not in ("user", "assistant", "system"):
        raise InvalidMessage("item.role must be 'user', 'assistant' or 'system'")
    parts = item.get("content")
    if not isinstance(parts, list) or not parts:
        raise InvalidMessage("item.content must be a non-empty list of parts")
    texts: list[str] = []
    images = 0
    for i, part in enumerate(parts):
        where = f"item.content[{i}]"
        part = _object(part, where)
        kind = part.get("type")
        if kind in ("input_text", "text"):
            texts.append(_string(part.get("text"), f"{where}.text", empty_ok=True))
        elif kind == "input_image":  # images before Mar 2026 (protocol.md#accepted-variants)
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            _data_url(url, f"{where}.image_url")
            images += 1
        else:
            raise InvalidMessage(f"{where}.type must be input_text, text or input_image")
    return ConversationItem(role=role, text="\n".join(texts) if texts else None, images=images)


def _item_create(msg: Mapping[str, Any]) -> ConversationItem | FunctionOutput:
    item = _object(msg.get("item"), "item")
    kind = item.get("type", "message")
    if kind == "message":
        return _message_item(item)
    if kind == "function_call_output":
        return FunctionOutput(
            call_id=_string(item.get("call_id"), "item.call_id"),
            output=_string(item.get("output"), "item.output", empty_ok=True),
        )
    raise InvalidMessage("item.type must be 'message' or 'function_call_output'")


def _function_call_output(msg: Mapping[str, Any]) -> FunctionOutput:
    data = _data(msg)
    output = data.get("output")
    if not isinstance(output, str):  # shape unknown (protocol.md#names-only): any JSON
        output = json.dumps(output, ensure_ascii=False)
    return FunctionOutput(call_id=_string(data.get("call_id"), "data.call_id"), output=output)


def _response_create(msg: Mapping[str, Any]) -> ResponseCreate:
    return ResponseCreate()


def _audio_append(msg: Mapping[str, Any]) -> AudioAppend:
    data = _data(msg, required=False)
    if "audio" in data:
        pcm = _base64_pcm(data["audio"], "data.audio")
    elif "audio" in msg:  # top-level audio, the v1 form (protocol.md#accepted-variants)
        pcm = _base64_pcm(msg["audio"], "audio")
    else:
        raise InvalidMessage("no audio: expected data.audio (or top-level audio)")
    sequence = _optional_int(data.get("sequenceNumber"), "data.sequenceNumber")
    return AudioAppend(
        size=len(pcm),
        pcm=pcm,
        sequence_number=sequence,
        legacy=msg["type"] != messages.AUDIO_APPEND,
    )


def _audio_commit(msg: Mapping[str, Any]) -> AudioCommit:
    _data(msg, required=False)
    return AudioCommit()


def _audio_clear(msg: Mapping[str, Any]) -> AudioClear:
    _data(msg, required=False)
    return AudioClear()


def _input_image(msg: Mapping[str, Any]) -> ImageInput:
    data = _data(msg)
    reply = data.get("reply", 0)
    if reply not in (0, 1):  # also True/False
        raise InvalidMessage("data.reply must be 0 or 1")
    return ImageInput(data_url=_data_url(data.get("content"), "data.content"), reply=bool(reply))


def _signaling(kind: str) -> Callable[[Mapping[str, Any]], SignalingSdp]:
    def parse(msg: Mapping[str, Any]) -> SignalingSdp:
        data = _data(msg, required=False)
        if "sdp" in data:
            return SignalingSdp(kind=kind, sdp=_sdp_text(data["sdp"], "data.sdp", kind))
        if "sdp" in msg:  # the mobile SDKs' top-level variant (protocol.md#accepted-variants)
            return SignalingSdp(kind=kind, sdp=_sdp_text(msg["sdp"], "sdp", kind))
        raise InvalidMessage("no SDP: expected data.sdp as an object or a string")

    return parse


def _ice_candidate(msg: Mapping[str, Any]) -> IceCandidate:
    value = _data(msg).get("candidate")
    if isinstance(value, str):
        return IceCandidate(candidate=value)
    value = _object(value, "data.candidate")
    return IceCandidate(
        candidate=_string(value.get("candidate"), "data.candidate.candidate", empty_ok=True),
        sdp_mid=_optional_string(value.get("sdpMid"), "data.candidate.sdpMid"),
        sdp_mline_index=_optional_int(value.get("sdpMLineIndex"), "data.candidate.sdpMLineIndex"),
    )


def _input_text(msg: Mapping[str, Any]) -> TextInput:
    data = _data(msg, required=False)
    text = data.get("text", data.get("content", msg.get("text")))
    return TextInput(text=_string(text, "data.text"))


_HANDLERS: Mapping[str, Callable[[Mapping[str, Any]], ClientMessage]] = {
    messages.INPUT_CONFIG: _input_config,
    messages.INPUT_FUNCTION_CALL: _input_function_call,
    SESSION_UPDATE: _session_update,
    messages.ITEM_CREATE: _item_create,
    FUNCTION_CALL_OUTPUT: _function_call_output,
    messages.RESPONSE_CREATE: _response_create,
    messages.AUDIO_APPEND: _audio_append,
    LEGACY_AUDIO_APPEND: _audio_append,
    messages.AUDIO_COMMIT: _audio_commit,
    LEGACY_AUDIO_COMMIT: _audio_commit,
    messages.AUDIO_CLEAR: _audio_clear,
    LEGACY_AUDIO_CLEAR: _audio_clear,
    messages.INPUT_IMAGE: _input_image,
    messages.SIGNALING_ANSWER: _signaling("answer"),
    messages.SIGNALING_OFFER: _signaling("offer"),
    messages.SIGNALING_ICE_CANDIDATE: _ice_candidate,
    INPUT_TEXT: _input_text,
}

#: Every client message type the server accepts.
ACCEPTED_TYPES = frozenset(_HANDLERS)


def decode(raw: str | bytes) -> dict[str, Any]:
    """A frame -> its JSON object. Binary frames, bad JSON and non-objects are refused.

    Lone surrogates in its strings become U+FFFD (see ``_parse_json``)."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        raise InvalidMessage("binary frames are not accepted; send JSON text frames")
    value = _parse_json(raw, "frame")
    if not isinstance(value, dict):
        raise InvalidMessage(f"frame is a JSON {_json_kind(value)}, not an object")
    return value


def normalise(msg: Mapping[str, Any]) -> ClientMessage:
    """A decoded message -> its normalised form. Raises ``InvalidMessage``."""
    kind = msg.get("type")
    if not isinstance(kind, str) or not kind:
        raise InvalidMessage("message has no 'type' string")
    handler = _HANDLERS.get(kind)
    if handler is None:
        raise InvalidMessage(f"unknown message type {kind!r}")
    return handler(msg)

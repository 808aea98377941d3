"""Builders for every client -> server message (protocol.md#client-messages).

Part of the pure wire layer: each builder returns a plain dict ready for ``json.dumps`` and
does nothing else. Forms are the ones the protocol reference recommends emitting.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any, Mapping, Sequence

__all__ = [
    "INPUT_CONFIG",
    "INPUT_FUNCTION_CALL",
    "ITEM_CREATE",
    "RESPONSE_CREATE",
    "AUDIO_APPEND",
    "AUDIO_COMMIT",
    "AUDIO_CLEAR",
    "INPUT_IMAGE",
    "SIGNALING_OFFER",
    "SIGNALING_ANSWER",
    "SIGNALING_ICE_CANDIDATE",
    "CLIENT_MESSAGE_TYPES",
    "encode",
    "input_config",
    "input_function_call",
    "opening_messages",
    "user_text_item",
    "function_call_output",
    "response_create",
    "audio_append",
    "audio_commit",
    "audio_clear",
    "input_image",
    "signaling_answer",
    "signaling_offer",
    "signaling_ice_candidate",
]

INPUT_CONFIG = "realtime.input_config"  # protocol.md#session-config
INPUT_FUNCTION_CALL = "realtime.input_function_call"  # protocol.md#tool-registration
ITEM_CREATE = "conversation.item.create"  # protocol.md#user-text, protocol.md#tool-output
RESPONSE_CREATE = "response.create"  # protocol.md#response-create
AUDIO_APPEND = "realtime.input_audio_buffer.append"  # protocol.md#audio-append
INPUT_IMAGE = "realtime.input_image"  # protocol.md#images
SIGNALING_ANSWER = "webrtc.signaling.answer"  # protocol.md#webrtc-signaling
SIGNALING_ICE_CANDIDATE = "webrtc.signaling.iceCandidate"  # protocol.md#ice-candidates
SIGNALING_OFFER = "webrtc.signaling.offer"  # protocol.md#renegotiation
AUDIO_COMMIT = "realtime.input_audio_buffer.commit"  # protocol.md#transparency
AUDIO_CLEAR = "realtime.input_audio_buffer.clear"  # protocol.md#transparency

#: Every message type this client may emit.
CLIENT_MESSAGE_TYPES = frozenset(
    {
        INPUT_CONFIG, INPUT_FUNCTION_CALL, ITEM_CREATE, RESPONSE_CREATE, AUDIO_APPEND,
        INPUT_IMAGE, SIGNALING_ANSWER, SIGNALING_ICE_CANDIDATE, SIGNALING_OFFER,
        AUDIO_COMMIT, AUDIO_CLEAR,
    }
)  # fmt: skip


#: A lone UTF-16 surrogate: a Python str may hold one, UTF-8 (so a text frame) cannot.
_SURROGATE = re.compile("[\ud800-\udfff]")


def encode(message: Mapping[str, Any]) -> str:
    """One message -> the text of its frame (compact JSON, UTF-8 kept as is).

    Lone surrogates (from ``surrogateescape`` or a ``\\ud800`` the server sent) are written as
    ``\\uXXXX`` escapes, as browsers' ``JSON.stringify`` does: the frame stays valid UTF-8.
    """
    text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def _content(value: Any) -> dict[str, Any]:
    # data.content carries JSON *text*, not an object, in every source (protocol.md#envelope).
    return {"content": json.dumps(value, ensure_ascii=False, separators=(",", ":"))}


def input_config(
    voice: str | None = None,
    prompt: str | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Voice, prompt and (optionally) tools, sent on open (protocol.md#session-config)."""
    config: dict[str, Any] = {}
    if voice is not None:
        config["voice"] = voice
    if prompt is not None:
        config["prompt"] = prompt
    if tools:
        config["tools"] = [dict(t) for t in tools]
    return {"type": INPUT_CONFIG, "data": _content(config)}


def input_function_call(tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The tools alone, sent on open without voice or prompt (protocol.md#tool-registration)."""
    return {"type": INPUT_FUNCTION_CALL, "data": _content([dict(t) for t in tools])}


def opening_messages(
    voice: str | None = None,
    prompt: str | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """What to send when the socket opens (protocol.md#session-open): never both tool paths.

    voice and/or prompt -> one input_config (tools inside it); only tools -> one
    input_function_call; nothing configured -> nothing.
    """
    if voice is not None or prompt is not None:
        return [input_config(voice, prompt, tools)]
    if tools:
        return [input_function_call(tools)]
    return []


def user_text_item(text: str) -> dict[str, Any]:
    """A user message: typed text, or one replayed history turn (protocol.md#user-text)."""
    return {
        "type": ITEM_CREATE,
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


def function_call_output(call_id: str, output: Any) -> dict[str, Any]:
    """A tool's result (protocol.md#tool-output). Non-string outputs are JSON-encoded (the
    field is a string)."""
    if not isinstance(output, str):
        output = json.dumps(output, ensure_ascii=False)
    return {
        "type": ITEM_CREATE,
        "item": {"type": "function_call_output", "call_id": call_id, "output": output},
    }


def response_create() -> dict[str, Any]:
    """Ask the avatar to answer now (protocol.md#response-create)."""
    return {"type": RESPONSE_CREATE}


def audio_append(pcm16: bytes) -> dict[str, Any]:
    """Raw PCM16LE 24 kHz mono bytes, base64-encoded into ``data.audio``
    (protocol.md#audio-append)."""
    if len(pcm16) % 2:
        raise ValueError("PCM16 audio must have an even number of bytes")
    return {"type": AUDIO_APPEND, "data": {"audio": base64.b64encode(pcm16).decode("ascii")}}


def audio_commit() -> dict[str, Any]:
    """Transparency mode: end of an utterance (protocol.md#transparency)."""
    return {"type": AUDIO_COMMIT, "data": {}}


def audio_clear() -> dict[str, Any]:
    """Transparency mode: drop queued audio (protocol.md#transparency)."""
    return {"type": AUDIO_CLEAR, "data": {}}


def input_image(data_url: str, reply: bool = False) -> dict[str, Any]:
    """One image as a ``data:image/...;base64,`` URL; ``reply`` asks for an answer now
    (protocol.md#images)."""
    if not data_url.startswith("data:image/"):
        raise ValueError("an image must be a data:image/<format>;base64,... URL")
    return {"type": INPUT_IMAGE, "data": {"content": data_url, "reply": 1 if reply else 0}}


def signaling_answer(sdp: str) -> dict[str, Any]:
    """The client's SDP answer to the server's offer (protocol.md#webrtc-signaling)."""
    return {"type": SIGNALING_ANSWER, "data": {"sdp": {"type": "answer", "sdp": sdp}}}


def signaling_offer(sdp: str) -> dict[str, Any]:
    """A client offer (renegotiation only; the client does not renegotiate by default; see
    protocol.md#renegotiation)."""
    return {"type": SIGNALING_OFFER, "data": {"sdp": {"type": "offer", "sdp": sdp}}}


def signaling_ice_candidate(
    candidate: str,
    sdp_mid: str | None,
    sdp_mline_index: int | None,
    username_fragment: str | None = None,
) -> dict[str, Any]:
    """One local ICE candidate, trickled (protocol.md#ice-candidates)."""
    body: dict[str, Any] = {
        "candidate": candidate,
        "sdpMid": sdp_mid,
        "sdpMLineIndex": sdp_mline_index,
    }
    if username_fragment is not None:
        body["usernameFragment"] = username_fragment
    return {"type": SIGNALING_ICE_CANDIDATE, "data": {"candidate": body}}

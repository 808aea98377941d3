"""Builders for every server -> client frame the local server emits (protocol.md#server-events).

Pure: each function returns a dict (or the frame text); nothing here does I/O. Field placement
follows the protocol's "emit" recommendations: reply text in ``data.content`` with the reply id
in ``data.id`` (protocol.md#reply-events), ``iceServers[].urls`` as lists
(protocol.md#ice-servers), notice text both at the top level and in ``data.message``
(protocol.md#connection-notices). ``legacy=True`` gives the older names and top-level fields
that clients must still accept (protocol.md#legacy-names).
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from typing import Any, Mapping, Sequence

from .. import events

__all__ = [
    "INVALID_CLIENT_MESSAGE",
    "RESPONSE_FAILED",
    "AUDIO_DELTA_RATE",
    "AUDIO_DELTA_SAMPLES",
    "NOTICE_MESSAGES",
    "encode",
    "notice",
    "notice_type",
    "connected_success",
    "avatar_warning",
    "session_created",
    "session_updated",
    "webrtc_offer",
    "speech_started",
    "speech_stopped",
    "input_transcription",
    "transcript_delta",
    "transcript_done",
    "audio_delta",
    "audio_done",
    "response_error",
    "invalid_message",
    "split_reply",
    "new_response_id",
]

#: ``data.code`` of the error answering a malformed client message.
INVALID_CLIENT_MESSAGE = "invalid_client_message"
#: ``data.code`` of the error sent when the brain failed.
RESPONSE_FAILED = "response_failed"
#: ``audio.delta`` payloads: PCM16 little-endian mono at this rate (protocol.md#downlink-audio)
#: ...
AUDIO_DELTA_RATE = 24000
#: ... in pieces of this many samples (100 ms).
AUDIO_DELTA_SAMPLES = 2400

_NOTICE_PREFIX = "conversation.connected."

#: Default human text per notice kind (the protocol's examples, protocol.md#connection-notices).
NOTICE_MESSAGES: Mapping[str, str] = {
    "fail": "Connection failed",
    "close": "Session ended by server",
    "insufficient_balance": "Account balance exhausted",
    "gpu_full": "No GPU capacity available, try again later",
    "connection_limit_exceeded": (
        "Concurrent connection limit (5) reached; close another session first"
    ),
    "backend_error": "Upstream model connection failed",
    "warning": "Warning from the server",
}

#: Early-v2 names for two notices (Dec 2025 apps); the client maps them back (events.LEGACY_NAMES).
_LEGACY_NOTICE_NAMES: Mapping[str, str] = {
    "gpu_full": "realtime.session.gpu_full",
    "insufficient_balance": "realtime.session.insufficient_balance",
}
_LEGACY_DELTA = "response.audio_transcript.delta"
_LEGACY_DONE = "response.audio_transcript.done"
_LEGACY_AUDIO_DELTA = "response.audio.delta"
_LEGACY_AUDIO_DONE = "response.audio.done"


def encode(frame: Mapping[str, Any]) -> str:
    """A frame's text: compact JSON, non-ASCII kept as is."""
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def notice_type(kind: str, legacy: bool = False) -> str:
    """The wire name of a notice kind (``gpu_full`` -> ``conversation.connected.gpu_full``)."""
    if legacy and kind in _LEGACY_NOTICE_NAMES:
        return _LEGACY_NOTICE_NAMES[kind]
    return _NOTICE_PREFIX + kind


def notice(kind: str, message: str | None = None, legacy: bool = False) -> dict[str, Any]:
    """``conversation.connected.<kind>`` with the text at the top level and in ``data``."""
    if kind not in NOTICE_MESSAGES:
        raise ValueError(f"unknown notice kind {kind!r}; use one of {', '.join(NOTICE_MESSAGES)}")
    text = NOTICE_MESSAGES[kind] if message is None else message
    return {"type": notice_type(kind, legacy), "message": text, "data": {"message": text}}


def _ice_server(entry: Mapping[str, Any]) -> dict[str, Any]:
    urls = entry["urls"]  # a string or a list, as given: the contract allows both
    out: dict[str, Any] = {"urls": urls if isinstance(urls, str) else list(urls)}
    for key in ("username", "credential"):
        if entry.get(key) is not None:
            out[key] = entry[key]
    return out


def connected_success(session_id: str, ice_servers: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The first event of a session: its id and the ICE servers."""
    return {
        "type": events.ConnectedSuccess.TYPE,
        "data": {"sessionId": session_id, "iceServers": [_ice_server(s) for s in ice_servers]},
    }


def avatar_warning(avatar_id: str, name: str) -> dict[str, Any]:
    """The warning after success when ``name`` matched several avatars
    (protocol.md#connected-warning)."""
    text = f"Several avatars are named {name!r}; using the most recently updated one ({avatar_id})."
    return {
        "type": events.ConnectedWarning.TYPE,
        "message": text,
        "data": {"message": text, "avatarId": avatar_id},
    }


def session_created() -> dict[str, Any]:
    """The upstream session exists: the client replays history now."""
    return {"type": events.SessionCreated.TYPE, "data": {}}


def session_updated() -> dict[str, Any]:
    """The session is ready: audio may flow, replies may start."""
    return {"type": events.SessionUpdated.TYPE, "data": {}}


def webrtc_offer(sdp: str) -> dict[str, Any]:
    """The server's WebRTC offer, ``data.sdp`` as an RTCSessionDescription-like object."""
    return {"type": events.SignalingOffer.TYPE, "data": {"sdp": {"type": "offer", "sdp": sdp}}}


def speech_started() -> dict[str, Any]:
    """The server heard the user start speaking."""
    return {"type": events.SpeechStarted.TYPE, "data": {}}


def speech_stopped() -> dict[str, Any]:
    """The user stopped speaking; the transcription follows."""
    return {"type": events.SpeechStopped.TYPE, "data": {}}


def input_transcription(text: str) -> dict[str, Any]:
    """What the server heard the user say (``content`` and its alternative ``transcript``)."""
    return {
        "type": events.InputTranscriptionCompleted.TYPE,
        "data": {"content": text, "transcript": text},
    }


def transcript_delta(response_id: str, text: str, legacy: bool = False) -> dict[str, Any]:
    """One piece of reply text."""
    if legacy:
        return {"type": _LEGACY_DELTA, "delta": text, "response_id": response_id}
    return {
        "type": events.ResponseTranscriptDelta.TYPE,
        "data": {"content": text, "id": response_id},
    }


def transcript_done(response_id: str, text: str, legacy: bool = False) -> dict[str, Any]:
    """The full reply text (``content`` and its alternative name ``transcript``)."""
    if legacy:
        return {"type": _LEGACY_DONE, "transcript": text, "response_id": response_id}
    return {
        "type": events.ResponseTranscriptDone.TYPE,
        "data": {"content": text, "transcript": text, "id": response_id},
    }


def audio_delta(response_id: str, pcm: bytes, legacy: bool = False) -> dict[str, Any]:
    """A piece of the reply's audio (PCM16 little-endian, 24 kHz mono) as base64."""
    delta = base64.b64encode(pcm).decode("ascii")
    if legacy:
        return {"type": _LEGACY_AUDIO_DELTA, "delta": delta, "response_id": response_id}
    return {"type": events.ResponseAudioDelta.TYPE, "data": {"delta": delta, "id": response_id}}


def audio_done(response_id: str, legacy: bool = False) -> dict[str, Any]:
    """The reply finished generating."""
    if legacy:
        return {"type": _LEGACY_AUDIO_DONE, "response_id": response_id}
    return {"type": events.ResponseAudioDone.TYPE, "data": {"id": response_id}}


def response_error(message: str, code: str, response_id: str | None = None) -> dict[str, Any]:
    """A failed turn or a refused message; the session goes on."""
    data: dict[str, Any] = {"code": code, "message": message}
    if response_id is not None:
        data["id"] = response_id
    return {"type": events.ResponseFailure.TYPE, "message": message, "data": data}


def invalid_message(reason: str) -> dict[str, Any]:
    """The answer to a client message the server could not accept."""
    return response_error(reason, INVALID_CLIENT_MESSAGE)


def split_reply(text: str) -> list[str]:
    """Word-sized delta pieces whose concatenation is exactly ``text``.

    Each piece is a word with the whitespace after it (leading whitespace joins the first).
    """
    return re.findall(r"\s*\S+\s*|\s+", text)


def new_response_id() -> str:
    """A fresh reply id, shaped like the service's (``resp_`` + hex)."""
    return "resp_" + uuid.uuid4().hex[:20]

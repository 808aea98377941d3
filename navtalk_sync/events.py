"""Typed events: what the server says, and what the client itself reports.

This module is part of the pure wire layer: no I/O, no threads, no imports from the rest of
the package. ``parse_event`` turns one decoded frame into an event object and never raises;
``decode_frame`` turns a text frame into a dict and raises ``ValueError`` on bad JSON.

Every field is looked up tolerantly, in the orders of protocol.md#parsing-rules: the ``data``
payload first, then the top level, then ``raw_data``.
"""

from __future__ import annotations

import base64
import binascii
import json
import warnings
from collections.abc import Mapping  # typing.Mapping's isinstance() takes twice as long
from typing import Any, ClassVar

import attrs

__all__ = [
    "Event",
    "ServerEvent",
    "UnknownEvent",
    "ConnectionNotice",
    "ConnectedSuccess",
    "ConnectedWarning",
    "ConnectedFail",
    "ConnectedClose",
    "InsufficientBalanceNotice",
    "GpuFullNotice",
    "ConnectionLimitExceededNotice",
    "BackendErrorNotice",
    "SessionCreated",
    "SessionUpdated",
    "SignalingOffer",
    "SignalingAnswer",
    "SignalingIceCandidate",
    "SpeechStarted",
    "SpeechStopped",
    "InputTranscriptionCompleted",
    "ResponseTranscriptDelta",
    "ResponseTranscriptDone",
    "ResponseAudioDelta",
    "ResponseAudioDone",
    "FunctionCallArgumentsDelta",
    "FunctionCallArgumentsDone",
    "ResponseCompleted",
    "ResponseFailure",
    "StatusEvent",
    "IceServer",
    "ClientEvent",
    "StateChanged",
    "SessionEnded",
    "Reconnecting",
    "Reconnected",
    "CallbackFailure",
    "MediaChanged",
    "ReplyInterrupted",
    "ToolFailure",
    "TurnReport",
    "EVENT_TYPES",
    "LEGACY_NAMES",
    "CLIENT_EVENT_TYPES",
    "canonical_type",
    "decode_frame",
    "parse_event",
]


# --------------------------------------------------------------------------- field lookup


def _payload(msg: Mapping[str, Any]) -> Mapping[str, Any]:
    data = msg.get("data")
    return data if isinstance(data, Mapping) else {}


def _raw_data(msg: Mapping[str, Any]) -> Mapping[str, Any]:
    raw = msg.get("raw_data")
    return raw if isinstance(raw, Mapping) else {}


def _first(*candidates: Any) -> Any:
    """The first candidate that is present (not None)."""
    for value in candidates:
        if value is not None:
            return value
    return None


def _text(value: Any) -> str | None:
    """A text field: strings as they are, lists of ``{text|content}`` parts joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, Mapping):
                piece = _first(part.get("text"), part.get("content"), part.get("transcript"))
                if isinstance(piece, str):
                    parts.append(piece)
        return "".join(parts) if parts else None
    return None


def _str(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def _notice_message(msg: Mapping[str, Any]) -> str | None:
    """Notices carry their text at the top level, some servers put it in ``data``."""
    return _text(_first(_text(msg.get("message")), _text(_payload(msg).get("message"))))


def _response_id(msg: Mapping[str, Any]) -> str | None:
    data = _payload(msg)
    return _str(
        _first(
            data.get("id"),
            data.get("response_id"),
            data.get("responseId"),
            msg.get("response_id"),
        )
    )


def _normalise_sdp(sdp: str) -> str:
    """SDP lines must end in CRLF; some servers send bare LF."""
    lines = sdp.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and lines[-1] == "":
        lines.pop()
    return "\r\n".join(lines) + "\r\n" if lines else ""


def _sdp(msg: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(sdp text, description type) from ``data.sdp`` (object or string), ``data.offer``, ..."""
    data = _payload(msg)
    for holder in (data.get("sdp"), data.get("offer"), data.get("answer"), msg.get("sdp")):
        if isinstance(holder, str) and holder.strip():
            return _normalise_sdp(holder), None
        if isinstance(holder, Mapping) and isinstance(holder.get("sdp"), str):
            kind = holder.get("type")
            return _normalise_sdp(holder["sdp"]), kind if isinstance(kind, str) else None
    return None, None


# --------------------------------------------------------------------------- base classes


@attrs.frozen(repr=False)
class Event:
    """Anything the client reports. ``type`` is the (v2) wire name or a ``client.`` name."""

    type: str
    raw: Mapping[str, Any] = attrs.field(factory=dict, eq=False)

    def __repr__(self) -> str:
        shown = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in attrs.fields(type(self))
            if f.name not in ("type", "raw") and f.repr
        ]
        return f"<{type(self).__name__} {self.type!r} {' '.join(shown)}>".replace(" >", ">")


@attrs.frozen(repr=False)
class ServerEvent(Event):
    """An event that arrived from the server. ``raw`` is the frame as received."""

    TYPE: ClassVar[str] = ""

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        return cls(type=event_type, raw=msg)


@attrs.frozen(repr=False)
class UnknownEvent(ServerEvent):
    """A frame whose type this library does not know. Never an error."""


# --------------------------------------------------------------------------- connection


@attrs.frozen(repr=False)
class IceServer:
    """One ICE server from ``conversation.connected.success``. The credential is not shown."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = attrs.field(default=None, repr=False)

    def __repr__(self) -> str:
        user = f" username={self.username!r}" if self.username else ""
        return f"<IceServer urls={list(self.urls)!r}{user}>"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


def _ice_servers(value: Any) -> tuple[IceServer, ...]:
    if not isinstance(value, list):
        return ()
    servers = []
    for entry in value:
        if not isinstance(entry, Mapping):
            continue
        urls = entry.get("urls", entry.get("url"))
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list):
            continue
        clean = tuple(u for u in urls if isinstance(u, str) and u)
        if clean:
            servers.append(
                IceServer(clean, _str(entry.get("username")), _str(entry.get("credential")))
            )
    return tuple(servers)


@attrs.frozen(repr=False)
class ConnectedSuccess(ServerEvent):
    """The server accepted the connection: its session id and the ICE servers to use."""

    TYPE: ClassVar[str] = "conversation.connected.success"
    session_id: str | None = None
    ice_servers: tuple[IceServer, ...] = ()

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        data = _payload(msg)
        session_id = _str(
            _first(
                data.get("sessionId"),
                data.get("session_id"),
                msg.get("sessionId"),
                msg.get("session_id"),
                data.get("roomId"),
                data.get("room_id"),
            )
        )
        ice = _first(data.get("iceServers"), data.get("ice_servers"), msg.get("iceServers"))
        return cls(type=event_type, raw=msg, session_id=session_id, ice_servers=_ice_servers(ice))


@attrs.frozen(repr=False)
class ConnectionNotice(ServerEvent):
    """A ``conversation.connected.*`` notice other than success."""

    message: str | None = None
    #: True for notices after which a later attempt may succeed (capacity, backend trouble).
    RETRYABLE: ClassVar[bool] = False

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        return cls(type=event_type, raw=msg, message=_notice_message(msg))


@attrs.frozen(repr=False)
class ConnectedWarning(ConnectionNotice):
    """Non-fatal; sent when ``name=`` matched several avatars."""

    TYPE: ClassVar[str] = "conversation.connected.warning"
    avatar_id: str | None = None

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        data = _payload(msg)
        avatar_id = _str(
            _first(data.get("avatarId"), data.get("avatar_id"), data.get("id"), msg.get("avatarId"))
        )
        return cls(type=event_type, raw=msg, message=_notice_message(msg), avatar_id=avatar_id)


@attrs.frozen(repr=False)
class ConnectedFail(ConnectionNotice):
    """Setup failed (bad licence, unknown avatar...): ``ConnectionFailed``."""

    TYPE: ClassVar[str] = "conversation.connected.fail"


@attrs.frozen(repr=False)
class ConnectedClose(ConnectionNotice):
    """The server ended the session: ``ServerClosed``."""

    TYPE: ClassVar[str] = "conversation.connected.close"


@attrs.frozen(repr=False)
class InsufficientBalanceNotice(ConnectionNotice):
    """Out of credit, at the start or mid-call: ``InsufficientBalance``."""

    TYPE: ClassVar[str] = "conversation.connected.insufficient_balance"


@attrs.frozen(repr=False)
class GpuFullNotice(ConnectionNotice):
    """No capacity now: ``GpuFull`` (retryable)."""

    TYPE: ClassVar[str] = "conversation.connected.gpu_full"
    RETRYABLE: ClassVar[bool] = True


@attrs.frozen(repr=False)
class ConnectionLimitExceededNotice(ConnectionNotice):
    """Too many sessions for this licence: ``ConnectionLimitExceeded``."""

    TYPE: ClassVar[str] = "conversation.connected.connection_limit_exceeded"


@attrs.frozen(repr=False)
class BackendErrorNotice(ConnectionNotice):
    """A failure upstream of the server: ``BackendError`` (retryable)."""

    TYPE: ClassVar[str] = "conversation.connected.backend_error"
    RETRYABLE: ClassVar[bool] = True


# --------------------------------------------------------------------------- session


@attrs.frozen(repr=False)
class SessionCreated(ServerEvent):
    """The upstream AI session exists; history is replayed now. ``raw`` holds any metadata."""

    TYPE: ClassVar[str] = "realtime.session.created"
    session_id: str | None = None

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        data = _payload(msg)
        sid = _str(_first(data.get("sessionId"), data.get("session_id"), data.get("id")))
        return cls(type=event_type, raw=msg, session_id=sid)


@attrs.frozen(repr=False)
class SessionUpdated(ServerEvent):
    """The session is configured: audio may flow."""

    TYPE: ClassVar[str] = "realtime.session.updated"


# --------------------------------------------------------------------------- WebRTC signaling


@attrs.frozen(repr=False)
class _SessionDescription(ServerEvent):
    """A WebRTC session description. ``sdp`` has CRLF line endings, or is None if unusable."""

    sdp: str | None = attrs.field(default=None, repr=False)
    sdp_type: str | None = None

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        sdp, kind = _sdp(msg)
        if sdp is not None and not sdp.startswith("v="):
            sdp = None
        return cls(type=event_type, raw=msg, sdp=sdp, sdp_type=kind)


@attrs.frozen(repr=False)
class SignalingOffer(_SessionDescription):
    """The server's WebRTC offer. ``sdp`` has CRLF line endings, or is None if unusable."""

    TYPE: ClassVar[str] = "webrtc.signaling.offer"


@attrs.frozen(repr=False)
class SignalingAnswer(_SessionDescription):
    """A WebRTC answer from the server (not expected: the client answers)."""

    TYPE: ClassVar[str] = "webrtc.signaling.answer"


@attrs.frozen(repr=False)
class SignalingIceCandidate(ServerEvent):
    """A trickled ICE candidate. ``candidate`` is None when the frame held none."""

    TYPE: ClassVar[str] = "webrtc.signaling.iceCandidate"
    candidate: str | None = None
    sdp_mid: str | None = None
    sdp_mline_index: int | None = None
    username_fragment: str | None = None

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        value = _first(_payload(msg).get("candidate"), msg.get("candidate"))
        if isinstance(value, str):
            return cls(type=event_type, raw=msg, candidate=value or None)
        if not isinstance(value, Mapping):
            return cls(type=event_type, raw=msg)
        index = value.get("sdpMLineIndex")
        return cls(
            type=event_type,
            raw=msg,
            candidate=_str(value.get("candidate")) or None,
            sdp_mid=_str(value.get("sdpMid")),
            sdp_mline_index=index
            if isinstance(index, int) and not isinstance(index, bool)
            else None,
            username_fragment=_str(value.get("usernameFragment")),
        )


# --------------------------------------------------------------------------- input


@attrs.frozen(repr=False)
class SpeechStarted(ServerEvent):
    """The server heard the user start speaking (barge-in point)."""

    TYPE: ClassVar[str] = "realtime.input_audio_buffer.speech_started"


@attrs.frozen(repr=False)
class SpeechStopped(ServerEvent):
    """The server heard the user stop speaking; a transcript and a reply follow."""

    TYPE: ClassVar[str] = "realtime.input_audio_buffer.speech_stopped"


@attrs.frozen(repr=False)
class InputTranscriptionCompleted(ServerEvent):
    """What the server understood the user said. ``text`` may be empty."""

    TYPE: ClassVar[str] = "realtime.conversation.item.input_audio_transcription.completed"
    text: str = ""

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        data = _payload(msg)
        text = _first(
            _text(data.get("content")),
            _text(data.get("transcript")),
            _text(msg.get("transcript")),
            _text(data.get("text")),
        )
        return cls(type=event_type, raw=msg, text=text or "")


# --------------------------------------------------------------------------- response


@attrs.frozen(repr=False)
class ResponseTranscriptDelta(ServerEvent):
    """A piece of the avatar's reply text; pieces with one ``response_id`` concatenate."""

    TYPE: ClassVar[str] = "realtime.response.audio_transcript.delta"
    text: str = ""
    response_id: str | None = None

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        data = _payload(msg)
        text = _first(_text(data.get("content")), _text(data.get("delta")), _text(msg.get("delta")))
        return cls(type=event_type, raw=msg, text=text or "", response_id=_response_id(msg))


@attrs.frozen(repr=False)
class ResponseTranscriptDone(ServerEvent):
    """The full reply text, or None when the server sent none (use the deltas then)."""

    TYPE: ClassVar[str] = "realtime.response.audio_transcript.done"
    text: str | None = None
    response_id: str | None = None

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        data = _payload(msg)
        text = _first(
            _text(data.get("content")), _text(data.get("transcript")), _text(msg.get("transcript"))
        )
        return cls(type=event_type, raw=msg, text=text, response_id=_response_id(msg))


@attrs.frozen(repr=False)
class ResponseAudioDelta(ServerEvent):
    """Optional reply audio over the socket (PCM16 24 kHz mono assumed). Never played by default."""

    TYPE: ClassVar[str] = "realtime.response.audio.delta"
    delta: str = attrs.field(default="", repr=False)
    response_id: str | None = None

    @property
    def audio(self) -> bytes:
        """The decoded audio bytes (empty if the payload was not valid base64)."""
        try:
            return base64.b64decode(self.delta, validate=True)
        except (binascii.Error, ValueError):
            return b""

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        data = _payload(msg)
        delta = _first(_str(data.get("delta")), _str(data.get("audio")), _str(msg.get("delta")))
        return cls(type=event_type, raw=msg, delta=delta or "", response_id=_response_id(msg))


@attrs.frozen(repr=False)
class ResponseAudioDone(ServerEvent):
    """Reply audio finished *generating*; playback may go on for seconds."""

    TYPE: ClassVar[str] = "realtime.response.audio.done"
    response_id: str | None = None

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        return cls(type=event_type, raw=msg, response_id=_response_id(msg))


def _call_id(msg: Mapping[str, Any]) -> str | None:
    data, raw = _payload(msg), _raw_data(msg)
    return _str(
        _first(
            data.get("call_id"),
            data.get("callId"),
            raw.get("call_id"),
            msg.get("call_id"),
            data.get("id"),
        )
    )


@attrs.frozen(repr=False)
class FunctionCallArgumentsDelta(ServerEvent):
    """A piece of a tool call's arguments (the ``.done`` event carries them whole)."""

    TYPE: ClassVar[str] = "realtime.response.function_call_arguments.delta"
    call_id: str | None = None
    delta: str = ""

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        data = _payload(msg)
        delta = _first(_str(data.get("delta")), _str(msg.get("delta")))
        return cls(type=event_type, raw=msg, call_id=_call_id(msg), delta=delta or "")


def _decode_arguments(value: Any) -> tuple[dict[str, Any] | None, str | None]:
    """(arguments as a dict, arguments as the JSON text) from a string or an object."""
    if isinstance(value, Mapping):
        try:
            return dict(value), json.dumps(value)
        except (ValueError, RecursionError):  # nested too deeply to encode again
            return dict(value), None
    if isinstance(value, str):
        if not value.strip():
            return {}, value
        try:
            decoded = _loads(value)
        except (ValueError, RecursionError):  # not JSON, or nested too deeply to decode
            return None, value
        return (dict(decoded) if isinstance(decoded, Mapping) else None), value
    return None, None


@attrs.frozen(repr=False)
class FunctionCallArgumentsDone(ServerEvent):
    """The model asks for a tool call.

    ``arguments`` is the decoded object, or None when the server sent none or sent text that
    is not a JSON object (``arguments_json`` then holds what came, if anything).
    """

    TYPE: ClassVar[str] = "realtime.response.function_call_arguments.done"
    name: str | None = None
    call_id: str | None = None
    arguments: Mapping[str, Any] | None = None
    arguments_json: str | None = attrs.field(default=None, repr=False)
    response_id: str | None = None

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        data, raw = _payload(msg), _raw_data(msg)
        name = _str(
            _first(data.get("function_name"), data.get("name"), raw.get("name"), msg.get("name"))
        )
        args, args_json = _decode_arguments(data.get("arguments"))
        if args is None and args_json is None:
            args, args_json = _decode_arguments(_first(raw.get("arguments"), msg.get("arguments")))
        response_id = _str(_first(_response_id(msg), raw.get("response_id")))
        return cls(
            type=event_type,
            raw=msg,
            name=name,
            call_id=_call_id(msg),
            arguments=args,
            arguments_json=args_json,
            response_id=response_id,
        )


@attrs.frozen(repr=False)
class ResponseCompleted(ServerEvent):
    """Names-only event (shape unknown): a reply finished."""

    TYPE: ClassVar[str] = "realtime.response.completed"
    response_id: str | None = None

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        return cls(type=event_type, raw=msg, response_id=_response_id(msg))


@attrs.frozen(repr=False)
class ResponseFailure(ServerEvent):
    """A turn failed upstream (or the server refused a message). The session goes on."""

    TYPE: ClassVar[str] = "realtime.response.error"
    message: str | None = None
    code: str | None = None

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        data = _payload(msg)
        error = _first(msg.get("error"), data.get("error"))
        error = error if isinstance(error, Mapping) else {}
        message = _first(
            _text(msg.get("message")),
            _text(data.get("message")),
            _text(error.get("message")),
            _text(msg.get("error")),
        )
        code = _str(_first(data.get("code"), error.get("code"), msg.get("code")))
        return cls(type=event_type, raw=msg, message=message, code=code)


@attrs.frozen(repr=False)
class StatusEvent(ServerEvent):
    """Names-only diagnostic notice; ``data`` is whatever the server sent."""

    TYPE: ClassVar[str] = "realtime.status"
    data: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_message(cls, event_type: str, msg: Mapping[str, Any]) -> ServerEvent:
        return cls(type=event_type, raw=msg, data=dict(_payload(msg)))


# --------------------------------------------------------------------------- registry

_SERVER_CLASSES: tuple[type[ServerEvent], ...] = (
    ConnectedSuccess, ConnectedWarning, ConnectedFail, ConnectedClose,
    InsufficientBalanceNotice, GpuFullNotice, ConnectionLimitExceededNotice, BackendErrorNotice,
    SessionCreated, SessionUpdated,
    SignalingOffer, SignalingAnswer, SignalingIceCandidate,
    SpeechStarted, SpeechStopped, InputTranscriptionCompleted,
    ResponseTranscriptDelta, ResponseTranscriptDone, ResponseAudioDelta, ResponseAudioDone,
    FunctionCallArgumentsDelta, FunctionCallArgumentsDone,
    ResponseCompleted, ResponseFailure, StatusEvent,
)  # fmt: skip

#: v2 wire name -> event class, for the 25 server events (protocol.md#server-events).
EVENT_TYPES: Mapping[str, type[ServerEvent]] = {cls.TYPE: cls for cls in _SERVER_CLASSES}

#: Legacy (v1 and early v2) names -> the v2 name they mean (protocol.md#legacy-names).
LEGACY_NAMES: Mapping[str, str] = {
    "realtime.session.gpu_full": GpuFullNotice.TYPE,
    "realtime.session.insufficient_balance": InsufficientBalanceNotice.TYPE,
    "session.gpu_full": GpuFullNotice.TYPE,
    "session.insufficient_balance": InsufficientBalanceNotice.TYPE,
    "session.backend.error": BackendErrorNotice.TYPE,
    "session.created": SessionCreated.TYPE,
    "session.updated": SessionUpdated.TYPE,
    "input_audio_buffer.speech_started": SpeechStarted.TYPE,
    "input_audio_buffer.speech_stopped": SpeechStopped.TYPE,
    "conversation.item.input_audio_transcription.completed": InputTranscriptionCompleted.TYPE,
    "response.audio_transcript.delta": ResponseTranscriptDelta.TYPE,
    "response.audio_transcript.done": ResponseTranscriptDone.TYPE,
    "response.audio.delta": ResponseAudioDelta.TYPE,
    "response.audio.done": ResponseAudioDone.TYPE,
    "response.completed": ResponseCompleted.TYPE,
    "response.done": ResponseCompleted.TYPE,
    "response.function_call_arguments.delta": FunctionCallArgumentsDelta.TYPE,
    "response.function_call_arguments.done": FunctionCallArgumentsDone.TYPE,
    "response.error": ResponseFailure.TYPE,
    "error": ResponseFailure.TYPE,
}


def canonical_type(name: str) -> str:
    """The v2 name for a wire name (legacy names mapped; others unchanged)."""
    return LEGACY_NAMES.get(name, name)


#: Integers with more digits than ``int()`` takes (``sys.get_int_max_str_digits()``) are read
#: as floats instead: a frame with one is still a frame, and the number is absurd either way.
_INT_DIGITS = 4300


def _parse_int(text: str) -> int | float:
    return int(text) if len(text) <= _INT_DIGITS else float(text)


def _loads(text: str | bytes) -> Any:
    return json.loads(text, parse_int=_parse_int)


def decode_frame(text: str | bytes) -> dict[str, Any]:
    """One text frame -> its JSON object. Raises ``ValueError`` if it is not a JSON object."""
    try:
        decoded = _loads(text)
    except RecursionError:
        raise ValueError("frame is nested too deeply") from None
    if not isinstance(decoded, dict):
        raise ValueError(f"frame is JSON {type(decoded).__name__}, not an object")
    return decoded


def parse_event(msg: Mapping[str, Any]) -> ServerEvent:
    """One decoded frame -> a typed event. Never raises; unknown types give ``UnknownEvent``."""
    if not isinstance(msg, Mapping):
        return UnknownEvent(type="", raw={"value": msg})
    wire_type = msg.get("type")
    if not isinstance(wire_type, str):
        return UnknownEvent(type="", raw=msg)
    event_type = canonical_type(wire_type)
    cls = EVENT_TYPES.get(event_type)
    if cls is None:
        return UnknownEvent(type=wire_type, raw=msg)
    try:
        return cls.from_message(event_type, msg)
    except Exception:  # a shape no lookup foresaw must not kill the reader
        return UnknownEvent(type=wire_type, raw=msg)


# --------------------------------------------------------------------------- client-side events


def _own_type(event: ClientEvent) -> str:
    return type(event).TYPE


@attrs.frozen(repr=False)
class ClientEvent(Event):
    """Something the client itself reports; its ``type`` starts with ``client.``.

    Each kind names its type once, in ``TYPE``, as server events do; ``type`` defaults to it.
    """

    TYPE: ClassVar[str] = ""
    type: str = attrs.field(default=attrs.Factory(_own_type, takes_self=True), kw_only=True)


@attrs.frozen(repr=False)
class StateChanged(ClientEvent):
    """``client.state``: the connection moved from ``previous`` to ``state``."""

    TYPE: ClassVar[str] = "client.state"

    state: str = ""
    previous: str = ""
    reason: str | None = None


@attrs.frozen(repr=False)
class SessionEnded(ClientEvent):
    """``client.disconnected``: the session ended (``error`` is None after a deliberate close).

    With ``reconnecting`` True a new session is on its way (``client.reconnecting`` follows);
    a ``client.disconnected`` with ``reconnecting`` False is the end of the conversation.
    """

    TYPE: ClassVar[str] = "client.disconnected"

    code: int | None = None
    reason: str | None = None
    error: BaseException | None = None
    reconnecting: bool = False


@attrs.frozen(repr=False)
class Reconnecting(ClientEvent):
    """``client.reconnecting``: attempt number ``attempt`` starts in ``delay`` seconds;
    ``error`` is why the session (or the previous attempt) ended."""

    TYPE: ClassVar[str] = "client.reconnecting"

    attempt: int = 0
    delay: float = 0.0
    error: BaseException | None = None


@attrs.frozen(repr=False)
class Reconnected(ClientEvent):
    """``client.reconnected``: a new session is ready after ``attempts`` attempts and
    ``downtime`` seconds without one; ``replayed_turns`` user turns were replayed into it."""

    TYPE: ClassVar[str] = "client.reconnected"

    attempts: int = 0
    downtime: float = 0.0
    session_id: str | None = None
    replayed_turns: int = 0


@attrs.frozen(repr=False)
class CallbackFailure(ClientEvent):
    """``client.callback_error``: a user callback raised while handling ``event``."""

    TYPE: ClassVar[str] = "client.callback_error"

    callback: str = ""
    error: BaseException | None = None
    event: Event | None = None


@attrs.frozen(repr=False)
class MediaChanged(ClientEvent):
    """``client.media``: the WebRTC media moved from ``previous`` to ``state``.

    States: ``waiting`` (no offer yet), ``negotiating`` (answer sent), ``connected`` (ICE up),
    ``flowing`` (video frames arrive), ``stalled`` (no frame for ``stall_timeout``),
    ``failed`` (no offer or no ICE connection in time, or ICE failed), ``closed``.
    """

    TYPE: ClassVar[str] = "client.media"

    state: str = ""
    previous: str = ""
    reason: str | None = None


@attrs.frozen(repr=False)
class ReplyInterrupted(ClientEvent):
    """``client.interrupted``: the avatar was cut off while it spoke or owed a reply.

    ``by``: ``"interrupt"`` (``client.interrupt()``: the library's speaker stopped; the
    server was not told, as the protocol has no message for it) or ``"speech"`` (the server
    heard the user start speaking, its barge-in point). ``speaking``: the avatar's voice was
    being heard at that moment. The reply's record in ``client.history`` is marked
    ``interrupted``.
    """

    TYPE: ClassVar[str] = "client.interrupted"

    by: str = ""
    speaking: bool = False


@attrs.frozen(repr=False)
class ToolFailure(ClientEvent):
    """``client.tool_error``: a tool call could not be answered with the tool's result.

    ``kind``: ``raised`` (the tool raised ``error``), ``timeout`` (it ran longer than its
    timeout), ``bad_arguments`` (the arguments were not JSON or did not fit the parameters),
    ``bad_result`` (the result could not be JSON-encoded), ``unknown`` (no tool of that name),
    ``busy`` (too many calls waiting). The model got an error output saying ``message``.
    """

    TYPE: ClassVar[str] = "client.tool_error"

    name: str | None = None
    call_id: str | None = None
    kind: str = ""
    message: str = ""
    error: BaseException | None = None


@attrs.frozen(repr=False)
class TurnReport(ClientEvent):
    """``client.turn``: one reply and the moments a person notices, in seconds from the end of
    the user's turn (the end of the speech ``talk()`` sent, ``send_text``/``ask``, or the
    server's ``speech_stopped`` for the microphone); None when not seen.

    ``turn`` numbers the user's turns (a tool's follow-up reply shares its question's);
    ``heard`` is what the server understood (the transcript, or the text sent) or None;
    ``reply`` the reply's text. The moments: ``speech_stopped``, ``transcript``,
    ``first_text`` (the reply's first piece), ``first_voice`` (its first sound on the audio
    track), ``mouth_moving`` (the first frame in which the mouth moves, measured in the
    ``mouth_region`` setting's part of the picture), ``audio_done``, ``voice_ended``
    (the last sound heard). ``origin`` is the ``time.monotonic()`` those figures count from.
    """

    TYPE: ClassVar[str] = "client.turn"

    turn: int = 0
    heard: str | None = None
    reply: str | None = None
    response_id: str | None = None
    speech_stopped: float | None = None
    transcript: float | None = None
    first_text: float | None = None
    first_voice: float | None = None
    mouth_moving: float | None = None
    audio_done: float | None = None
    voice_ended: float | None = None
    origin: float | None = None

    def figures(self) -> dict[str, Any]:
        """Its fields as a dict (as ``stats()["turns"]`` shows them), but ``origin``."""
        hidden = ("type", "raw", "origin")
        shown = [f.name for f in attrs.fields(type(self)) if f.name not in hidden]
        return {name: getattr(self, name) for name in shown}


#: ``client.`` name -> class, for the client-side events.
CLIENT_EVENT_TYPES: Mapping[str, type[ClientEvent]] = {
    cls.TYPE: cls
    for cls in (
        StateChanged,
        SessionEnded,
        Reconnecting,
        Reconnected,
        CallbackFailure,
        MediaChanged,
        ReplyInterrupted,
        ToolFailure,
        TurnReport,
    )
}


#: Names events had before they were renamed so that no event reads like an exception; still
#: importable, with a ``DeprecationWarning``, until the next major version.
_DEPRECATED_NAMES: Mapping[str, type[Event]] = {
    "Disconnected": SessionEnded,
    "CallbackError": CallbackFailure,
    "ResponseError": ResponseFailure,
    "ToolFailed": ToolFailure,
}


def __getattr__(name: str) -> Any:
    event_class = _DEPRECATED_NAMES.get(name)
    if event_class is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(
        f"events.{name} is now events.{event_class.__name__}",
        DeprecationWarning,
        stacklevel=2,
    )
    return event_class

"""Settings (validated at construction), the session URL, and licence redaction."""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import re
import threading
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import attrs

from .errors import ConfigError
from .retry import ReconnectPolicy

__all__ = [
    "Settings",
    "DEFAULT_URL",
    "ENDPOINT_PATH",
    "build_url",
    "ice_host_addresses",
    "record_path",
    "redact",
    "install_redaction",
]

#: The hosted service's unified endpoint.
DEFAULT_URL = "wss://transfer.navtalk.ai/wss/v2/realtime-chat"
#: The path appended to a base URL that names no path (``ws://127.0.0.1:8765``).
ENDPOINT_PATH = "/wss/v2/realtime-chat"
LICENSE_ENV = "NAVTALK_LICENSE"

# --------------------------------------------------------------------------- redaction

_KEY_PATTERN = re.compile(r"sk_navtalk_[A-Za-z0-9_\-]*")
_QUERY_PATTERN = re.compile(r"(license=)[^&#\s'\"]+", re.IGNORECASE)
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def _remember_secret(secret: str) -> None:
    """Licences of any shape get redacted once a Settings object has seen them."""
    with _secrets_lock:
        _secrets.add(secret)


def redact(text: str) -> str:
    """``text`` with every licence hidden.

    ``sk_navtalk_…`` becomes ``sk_***``, ``license=…`` becomes ``license=***``, and any licence a
    ``Settings`` has seen (whatever its shape) is hidden too.
    """
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "sk_***" if secret.startswith("sk_") else "***")
    text = _KEY_PATTERN.sub("sk_***", text)
    return _QUERY_PATTERN.sub(r"\1***", text)


class _RedactingFilter(logging.Filter):
    """Rewrites a log record's message so no licence reaches any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logger's problem, not ours
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_FILTER = _RedactingFilter()


def install_redaction(*logger_names: str) -> None:
    """Attach the redacting filter to these loggers (idempotent).

    Filters apply only to records created on the logger itself, so each module's logger gets it,
    and so does websocket-client's ``websocket`` logger, whose trace output prints the URL.
    """
    for name in logger_names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


# --------------------------------------------------------------------------- validators


def _positive(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None and attribute.name == "ping_interval":
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{attribute.name} must be a positive number of seconds, got {value!r}")
    if math.isinf(value):
        raise ConfigError(f"{attribute.name} must be finite; every blocking call has a timeout")


def _positive_int(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{attribute.name} must be a positive integer, got {value!r}")


def _optional_positive_int(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _positive_int(instance, attribute, value)


def _chunk_samples(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 24_000:
        raise ConfigError(f"{attribute.name} must be an integer from 1 to 24000, got {value!r}")


def _optional_text(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{attribute.name} must be a non-empty string or None, got {value!r}")


def _check_license(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"no licence: pass license=... or set the {LICENSE_ENV} environment variable"
        )
    if any(ch.isspace() for ch in value):
        raise ConfigError("the licence must not contain whitespace")


def _history_turns(value: Any) -> tuple[str, ...]:
    """User turns to replay, from strings or ``{"role": ..., "text"|"content": ...}`` mappings.

    Assistant turns are dropped: the protocol replays user turns only (section 3.3).
    """
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ConfigError("history must be a list of strings or {'role', 'text'} mappings")
    turns = []
    for entry in value:
        text: Any
        if isinstance(entry, str):
            text = entry
        elif isinstance(entry, Mapping):
            if entry.get("role", "user") != "user":
                continue
            text = entry.get("text", entry.get("content"))
        else:
            text = getattr(entry, "text", None)
            if getattr(entry, "role", "user") != "user":
                continue
        if not isinstance(text, str):
            raise ConfigError(f"history entry without text: {entry!r}")
        if text.strip():
            turns.append(text)
    return tuple(turns)


def _tool_schemas(value: Any) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping) or not isinstance(value, Sequence):
        raise ConfigError("tools must be a list of OpenAI-Realtime function tool schemas")
    for tool in value:
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            raise ConfigError(f"a tool schema needs at least a 'name': {tool!r}")
    return tuple(dict(tool, type=tool.get("type", "function")) for tool in value)


def _check_url(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"url must be a string, got {type(value).__name__}")
    parts = urlsplit(value)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ConfigError(f"url must be a ws:// or wss:// URL with a host, got {redact(value)!r}")
    if any(key.lower() == "license" for key, _ in parse_qsl(parts.query)):
        raise ConfigError("pass the licence as license=..., not inside url")


_RECORD_SUFFIXES = (".mp4", ".mkv")


def record_path(value: Any) -> str | None:
    """A recording path as a string; ``ConfigError`` unless it ends in .mp4 or .mkv."""
    if value is None:
        return None
    path = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(path, str) or not path.lower().endswith(_RECORD_SUFFIXES):
        raise ConfigError(f"record must be a path ending in .mp4 or .mkv, got {value!r}")
    return path


def _speaker(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int) and value >= 0:
        return
    if isinstance(value, str) and value.strip():
        return
    raise ConfigError(
        f"speaker must be None, True, a device index or (part of) a device name, got {value!r}"
    )


def _host_addresses(value: Any) -> str | tuple[str, ...] | None:
    if value is None or value == "auto":
        return None if value is None else "auto"
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigError(
            f"ice_host_addresses must be 'auto', None or a list of IP addresses, got {value!r}"
        )
    addresses = tuple(value)
    for address in addresses:
        try:
            ipaddress.ip_address(address)
        except (TypeError, ValueError):
            raise ConfigError(f"ice_host_addresses: {address!r} is not an IP address") from None
    if not addresses:
        raise ConfigError("ice_host_addresses must name at least one address")
    return addresses


def ice_host_addresses(settings: Settings) -> tuple[str, ...] | None:
    """The host addresses ICE may use: "auto" means 127.0.0.1 when the server is on loopback."""
    value = settings.ice_host_addresses
    if value != "auto":
        return value  # type: ignore[return-value]
    host = urlsplit(settings.url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return ("127.0.0.1",) if loopback else None


def _reconnect_policy(value: Any) -> ReconnectPolicy | None:
    """``reconnect=True`` means the default policy; False or None, no reconnection."""
    if value is None or value is False:
        return None
    if value is True:
        return ReconnectPolicy()
    if isinstance(value, ReconnectPolicy):
        return value
    raise ConfigError(f"reconnect must be True, False or a ReconnectPolicy, got {value!r}")


# --------------------------------------------------------------------------- settings


@attrs.frozen(repr=False, kw_only=True)
class Settings:
    """Everything a client needs to open a session, checked when it is made.

    Build it with ``Settings.create(...)``, which also reads the licence from the
    environment; ``NavTalkClient`` does that for you.
    """

    license: str = attrs.field(validator=_check_license)
    avatar_id: str | None = attrs.field(default=None, validator=_optional_text)
    avatar_name: str | None = attrs.field(default=None, validator=_optional_text)
    url: str = attrs.field(default=DEFAULT_URL, validator=_check_url)
    voice: str | None = attrs.field(default=None, validator=_optional_text)
    prompt: str | None = attrs.field(default=None, validator=_optional_text)
    tools: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=_tool_schemas)
    history: tuple[str, ...] = attrs.field(default=(), converter=_history_turns)
    # ---- history replay (issue 6: History)
    #: replay only the last this many user turns of ``history`` (None: all of them)
    history_max_turns: int | None = attrs.field(default=None, validator=_optional_positive_int)
    greet_first: bool = False
    model: str | None = attrs.field(default=None, validator=_optional_text)
    #: seconds connect() waits for realtime.session.updated
    connect_timeout: float = attrs.field(default=15.0, validator=_positive)
    #: seconds a send waits for room in the bounded send queue
    send_timeout: float = attrs.field(default=10.0, validator=_positive)
    #: seconds close() may take before it aborts the socket
    close_timeout: float = attrs.field(default=1.0, validator=_positive)
    #: seconds between keepalive pings when nothing else is sent (None: no pings)
    ping_interval: float | None = attrs.field(default=20.0, validator=_positive)
    #: seconds without a pong after a ping before the connection counts as dead
    ping_timeout: float = attrs.field(default=10.0, validator=_positive)
    #: bound of the queue between the reader and the dispatcher (events are never dropped:
    #: when it is full the reader waits, and the socket backs up)
    event_queue_size: int = attrs.field(default=10_000, validator=_positive_int)
    #: bound of the queue of frames waiting to be written (a full queue blocks the sender up to
    #: send_timeout, then raises)
    send_queue_size: int = attrs.field(default=256, validator=_positive_int)
    #: reconnect after losing a ready session (None: never; see ReconnectPolicy)
    reconnect: ReconnectPolicy | None = attrs.field(default=None, converter=_reconnect_policy)

    # ---- the avatar's WebRTC media (protocol 7)
    #: answer the server's WebRTC offer and receive the avatar's picture and voice
    media: bool = True
    #: play the avatar's voice: None/False (no), True (default output), a device index or name
    speaker: bool | int | str | None = attrs.field(default=None, validator=_speaker)
    #: record the avatar's picture and voice to this .mp4/.mkv file from the start
    record: str | None = attrs.field(default=None, converter=record_path)
    #: host addresses for ICE candidates: "auto" (127.0.0.1 for a loopback server, else
    #: aioice's own choice), None (aioice's own choice) or a list (process-wide, see rtc.ice)
    ice_host_addresses: str | tuple[str, ...] | None = attrs.field(
        default="auto", converter=_host_addresses
    )
    #: use stun:stun.l.google.com:19302 when the server names no ICE servers
    stun_fallback: bool = False
    #: seconds from connected.success until the media must be connected
    media_timeout: float = attrs.field(default=15.0, validator=_positive)
    #: seconds without a video frame before the media counts as stalled
    stall_timeout: float = attrs.field(default=3.0, validator=_positive)
    #: end the session (MediaError) when the media fails, instead of going on without it
    media_required: bool = False

    # ---- the user's audio (protocol 4.1, 4.2)
    #: samples of 24 kHz audio per input_audio_buffer.append (1536 = 64 ms = 4096 base64 chars)
    audio_chunk_samples: int = attrs.field(default=1536, validator=_chunk_samples)
    #: seconds of audio the uplink queue holds before the gate opens or behind a slow socket
    #: (full: blocking sends wait up to send_timeout, the microphone drops its oldest audio)
    audio_hold_seconds: float = attrs.field(default=5.0, validator=_positive)
    #: hold the user's audio until the avatar's media (ICE) is connected too, not only until
    #: realtime.session.updated (what the iOS SDK and the Flutter sample do)
    audio_wait_for_media: bool = False
    #: mute the microphone (send silence) while the avatar's voice is heard, so a speaker's
    #: sound reaching the microphone cannot barge in on the avatar
    half_duplex: bool = False

    def __attrs_post_init__(self) -> None:
        _remember_secret(self.license)
        if self.avatar_id is None and self.avatar_name is None:
            raise ConfigError("name an avatar: pass avatar_id=... or avatar_name=...")
        if self.audio_wait_for_media and not self.media:
            raise ConfigError("audio_wait_for_media needs media=True (it waits for ICE)")
        if self.half_duplex and not self.media:
            raise ConfigError("half_duplex needs media=True (it listens to the avatar's voice)")
        if len(self.replayed_history) > self.send_queue_size // 2:
            # replayed from the reader thread, which must never wait for room in the queue
            raise ConfigError(
                f"{len(self.replayed_history)} history turns to replay do not fit in half the "
                f"send queue ({self.send_queue_size}): pass history_max_turns=... or a larger "
                "send_queue_size"
            )

    @classmethod
    def create(cls, license: str | None = None, **options: Any) -> Settings:
        """Settings from keyword arguments; the licence defaults to ``$NAVTALK_LICENSE``."""
        if license is None:
            license = os.environ.get(LICENSE_ENV)
        unknown = set(options) - {f.name for f in attrs.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        try:
            return cls(license=license, **options)  # type: ignore[arg-type]  # checked by attrs
        except TypeError as exc:  # attrs reports missing/extra arguments as TypeError
            raise ConfigError(redact(str(exc))) from None

    @property
    def replayed_history(self) -> tuple[str, ...]:
        """The user turns replayed after ``realtime.session.created``: the last
        ``history_max_turns`` of ``history``."""
        if self.history_max_turns is None:
            return self.history
        return self.history[-self.history_max_turns :]

    @property
    def avatar(self) -> tuple[str, str]:
        """The avatar query parameter: ``avatarId`` wins over ``name`` (protocol 1.1)."""
        if self.avatar_id is not None:
            return "avatarId", self.avatar_id
        assert self.avatar_name is not None
        return "name", self.avatar_name

    def __repr__(self) -> str:
        key, value = self.avatar
        return f"<Settings url={self.url!r} {key}={value!r} license='sk_***'>"


def build_url(settings: Settings) -> str:
    """The session URL with percent-encoded query values. Contains the licence: never log it."""
    parts = urlsplit(settings.url)
    path = parts.path if parts.path not in ("", "/") else ENDPOINT_PATH
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.append(("license", settings.license))
    query.append(settings.avatar)
    if settings.model is not None:
        query.append(("model", settings.model))
    encoded = urlencode(query, quote_via=quote, safe="")
    return urlunsplit((parts.scheme, parts.netloc, path, encoded, ""))

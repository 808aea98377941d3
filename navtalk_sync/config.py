"""Settings (validated at construction) and the session URL."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from typing import Any, Iterable, Mapping, Sequence
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import attrs

from .errors import ConfigError, InvalidArgument
from .paths import check_new_file
from .redaction import install_redaction, redact, remember_secret
from .retry import ReconnectPolicy
from .timeouts import check_seconds

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
#: OpenAI function names: letters, digits, ``_`` and ``-``, at most 64.
TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# --------------------------------------------------------------------------- validators


def _seconds(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None and attribute.name == "ping_interval":
        return
    check_seconds(value, attribute.name, error=ConfigError)


#: The most audio the uplink queue may hold: ten minutes (28.8 MB of 24 kHz PCM16).
MAX_AUDIO_HOLD = 600.0


def _audio_hold(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if check_seconds(value, attribute.name, error=ConfigError) > MAX_AUDIO_HOLD:
        raise ConfigError(f"{attribute.name} must be at most {MAX_AUDIO_HOLD:g} s, got {value!r}")


def _flag(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):  # "no" and 0 are not False: say so rather than guess
        raise ConfigError(f"{attribute.name} must be True or False, got {value!r}")


def _positive_int(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{attribute.name} must be a positive integer, got {value!r}")


def _optional_positive_int(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None:
        _positive_int(instance, attribute, value)


def _message_size(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1024 <= value <= 2**31:
        raise ConfigError(f"{attribute.name} must be bytes from 1024 to 2**31, got {value!r}")


def _chunk_samples(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 24_000:
        raise ConfigError(f"{attribute.name} must be an integer from 1 to 24000, got {value!r}")


def _optional_text(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{attribute.name} must be a non-empty string or None, got {value!r}")


def _query_text(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """Text that goes into the session URL, where it is percent-encoded as UTF-8."""
    _optional_text(instance, attribute, value)
    if value is not None and not _encodable(value):
        raise ConfigError(f"{attribute.name} is not valid text (a lone surrogate?)")


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_license(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f"no licence: pass license=... or set the {LICENSE_ENV} environment variable"
        )
    if any(ch.isspace() for ch in value) or not value.isprintable():
        raise ConfigError("the licence must not contain whitespace or control characters")


def _history_turns(value: Any) -> tuple[str, ...]:
    """User turns to replay, from strings or ``{"role": ..., "text"|"content": ...}`` mappings.

    Assistant turns are dropped: the protocol replays user turns only (section 3.3).
    """
    if value is None:
        return ()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise ConfigError("history must be a list of strings or {'role', 'text'} mappings")
    turns = []
    for entry in value:
        text: Any
        if isinstance(entry, str):
            text = entry
        elif isinstance(entry, Mapping):
            if not _is_user(entry.get("role", "user")):
                continue
            text = entry.get("text", entry.get("content"))
        else:
            text = getattr(entry, "text", None)
            if not _is_user(getattr(entry, "role", "user")):
                continue
        if not isinstance(text, str):
            raise ConfigError(f"history entry without text: {entry!r}")
        if text.strip():
            turns.append(text)
    return tuple(turns)


def _is_user(role: Any) -> bool:
    # An `is str` check first: a role such as a numpy array has no single truth value.
    return isinstance(role, str) and role == "user"


def _tool_schemas(value: Any) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if isinstance(value, Mapping) or not isinstance(value, Sequence):
        raise ConfigError("tools must be a list of OpenAI-Realtime function tool schemas")
    names: set[str] = set()
    for tool in value:
        if not isinstance(tool, Mapping) or not isinstance(tool.get("name"), str):
            raise ConfigError(f"a tool schema needs at least a 'name': {tool!r}")
        name = tool["name"]
        if not TOOL_NAME.match(name):
            raise ConfigError(f"a tool name is 1-64 letters, digits, '_' or '-', got {name!r}")
        if name in names:
            raise ConfigError(f"tools= names {name!r} twice")
        names.add(name)
        try:
            json.dumps(tool, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as exc:
            raise ConfigError(f"the schema of tool {name!r} is not JSON: {exc}") from None
    return tuple(dict(tool, type=tool.get("type", "function")) for tool in value)


def _check_url(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise ConfigError(f"url must be a string, got {type(value).__name__}")
    accepted = "a ws:// or wss:// URL with a host (and a port from 1 to 65535)"
    try:
        parts = urlsplit(value)
        port = parts.port  # reading it checks it
    except ValueError as exc:
        raise ConfigError(f"url must be {accepted}: {exc}, got {redact(value)!r}") from None
    if parts.scheme not in ("ws", "wss") or not parts.hostname or port == 0:
        raise ConfigError(f"url must be {accepted}, got {redact(value)!r}")
    if any(ch.isspace() or not ch.isprintable() for ch in value):
        raise ConfigError(f"url must not contain spaces or control characters, got {value!r}")
    if any(key.lower() == "license" for key, _ in parse_qsl(parts.query)):
        raise ConfigError("pass the licence as license=..., not inside url")


_RECORD_SUFFIXES = (".mp4", ".mkv")


def record_path(value: Any, error: type[InvalidArgument] = ConfigError) -> str | None:
    """A recording path as a string; ``error`` unless it ends in .mp4 or .mkv."""
    if value is None:
        return None
    return check_new_file(value, "record", _RECORD_SUFFIXES, error)


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
    if value is None:
        return None
    if isinstance(value, str) and value == "auto":
        return "auto"
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
    avatar_id: str | None = attrs.field(default=None, validator=_query_text)
    avatar_name: str | None = attrs.field(default=None, validator=_query_text)
    url: str = attrs.field(default=DEFAULT_URL, validator=_check_url)
    voice: str | None = attrs.field(default=None, validator=_optional_text)
    prompt: str | None = attrs.field(default=None, validator=_optional_text)
    tools: tuple[Mapping[str, Any], ...] = attrs.field(default=(), converter=_tool_schemas)
    history: tuple[str, ...] = attrs.field(default=(), converter=_history_turns)
    # ---- history replay
    #: replay only the last this many user turns of ``history`` (None: all of them)
    history_max_turns: int | None = attrs.field(default=None, validator=_optional_positive_int)
    greet_first: bool = attrs.field(default=False, validator=_flag)
    model: str | None = attrs.field(default=None, validator=_query_text)
    #: seconds connect() waits for realtime.session.updated
    connect_timeout: float = attrs.field(default=15.0, validator=_seconds)
    #: seconds a send waits for room in the bounded send queue
    send_timeout: float = attrs.field(default=10.0, validator=_seconds)
    #: seconds close() may take before it aborts the socket
    close_timeout: float = attrs.field(default=1.0, validator=_seconds)
    #: seconds between keepalive pings when nothing else is sent (None: no pings)
    ping_interval: float | None = attrs.field(default=20.0, validator=_seconds)
    #: seconds without a pong after a ping before the connection counts as dead
    ping_timeout: float = attrs.field(default=10.0, validator=_seconds)
    #: bound of the queue between the reader and the dispatcher (events are never dropped:
    #: when it is full the reader waits, and the socket backs up)
    event_queue_size: int = attrs.field(default=10_000, validator=_positive_int)
    #: bound of the queue of frames waiting to be written (a full queue blocks the sender up to
    #: send_timeout, then raises)
    send_queue_size: int = attrs.field(default=256, validator=_positive_int)
    #: the longest message (in bytes) the client takes from the server; a longer one ends the
    #: session before any of it is read (the largest legitimate ones, SDP offers and audio
    #: deltas, are tens of kilobytes)
    max_message_size: int = attrs.field(default=16 * 1024 * 1024, validator=_message_size)
    #: reconnect after losing a ready session (None: never; see ReconnectPolicy)
    reconnect: ReconnectPolicy | None = attrs.field(default=None, converter=_reconnect_policy)

    # ---- the avatar's WebRTC media (protocol 7)
    #: answer the server's WebRTC offer and receive the avatar's picture and voice
    media: bool = attrs.field(default=True, validator=_flag)
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
    stun_fallback: bool = attrs.field(default=False, validator=_flag)
    #: seconds from connected.success until the media must be connected
    media_timeout: float = attrs.field(default=15.0, validator=_seconds)
    #: seconds without a video frame before the media counts as stalled
    stall_timeout: float = attrs.field(default=3.0, validator=_seconds)
    #: end the session (MediaError) when the media fails, instead of going on without it
    media_required: bool = attrs.field(default=False, validator=_flag)

    # ---- the user's audio (protocol 4.1, 4.2)
    #: samples of 24 kHz audio per input_audio_buffer.append (1536 = 64 ms = 4096 base64 chars)
    audio_chunk_samples: int = attrs.field(default=1536, validator=_chunk_samples)
    #: seconds of audio the uplink queue holds before the gate opens or behind a slow socket
    #: (full: blocking sends wait up to send_timeout, the microphone drops its oldest audio)
    audio_hold_seconds: float = attrs.field(default=5.0, validator=_audio_hold)
    #: hold the user's audio until the avatar's media (ICE) is connected too, not only until
    #: realtime.session.updated (what the iOS SDK and the Flutter sample do)
    audio_wait_for_media: bool = attrs.field(default=False, validator=_flag)
    #: mute the microphone (send silence) while the avatar's voice is heard, so a speaker's
    #: sound reaching the microphone cannot barge in on the avatar
    half_duplex: bool = attrs.field(default=False, validator=_flag)

    def __attrs_post_init__(self) -> None:
        remember_secret(self.license, self)
        parts = urlsplit(self.url)
        for credential in (parts.username, parts.password):  # ws://user:password@host
            if credential:
                remember_secret(credential, self)
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
        return f"<Settings url={redact(self.url)!r} {key}={value!r} license='sk_***'>"


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

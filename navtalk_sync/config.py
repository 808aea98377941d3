"""Settings (validated at construction) and the session URL."""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import attrs

from .audio.echo import echo_canceller_missing
from .errors import ConfigError
from .options import (
    FLAT_NAMES,
    GROUPS,
    AudioOptions,
    Limits,
    MediaOptions,
    NetworkOptions,
    Timeouts,
)
from .proxies import is_loopback
from .redaction import install_redaction, redact, remember_secret
from .retry import ReconnectPolicy
from .validators import flag, optional, positive_int

__all__ = [
    "Settings",
    "DEFAULT_URL",
    "ENDPOINT_PATH",
    "build_url",
    "ice_host_addresses",
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

    Assistant turns are dropped: only user turns are replayed (protocol.md#history-replay).
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


def ice_host_addresses(settings: Settings) -> tuple[str, ...] | None:
    """The host addresses ICE may use: "auto" means 127.0.0.1 when the server is on loopback."""
    value = settings.media.ice_host_addresses if settings.media else None
    if value != "auto":
        return value  # type: ignore[return-value]
    return ("127.0.0.1",) if is_loopback(urlsplit(settings.url).hostname or "") else None


def _reconnect_policy(value: Any) -> ReconnectPolicy | None:
    """``reconnect=True`` means the default policy; False or None, no reconnection."""
    if value is None or value is False:
        return None
    if value is True:
        return ReconnectPolicy()
    if isinstance(value, ReconnectPolicy):
        return value
    raise ConfigError(f"reconnect must be True, False or a ReconnectPolicy, got {value!r}")


def _as_group(setting: str, value: Any) -> Any:
    """None means the group's defaults; anything but the group's class is refused."""
    cls = GROUPS[setting]
    if value is None:
        return cls()
    if not isinstance(value, cls):
        raise ConfigError(f"{setting} must be an nt.{cls.__name__}, got {value!r}")
    return value


def _timeouts(value: Any) -> Timeouts:
    return _as_group("timeouts", value)  # type: ignore[no-any-return]


def _limits(value: Any) -> Limits:
    return _as_group("limits", value)  # type: ignore[no-any-return]


def _audio(value: Any) -> AudioOptions:
    return _as_group("audio", value)  # type: ignore[no-any-return]


def _network(value: Any) -> NetworkOptions:
    return _as_group("network", value)  # type: ignore[no-any-return]


def _media(value: Any) -> MediaOptions | None:
    """``media=True`` means the default options; False (or None), no media at all."""
    if value is True:
        return MediaOptions()
    if value is False or value is None:
        return None
    if isinstance(value, MediaOptions):
        return value
    raise ConfigError(f"media must be True, False or an nt.MediaOptions, got {value!r}")


_GROUP_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "timeouts": _timeouts,
    "limits": _limits,
    "media": _media,
    "audio": _audio,
    "network": _network,
}


def _apply_flat(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with each flat keyword (``connect_timeout=5``) moved into its group."""
    grouped = {name: value for name, value in options.items() if name not in FLAT_NAMES}
    changes: dict[str, dict[str, Any]] = {}
    for name, value in options.items():
        if name in FLAT_NAMES:
            group, field = FLAT_NAMES[name]
            changes.setdefault(group, {})[field] = value
    for group, values in changes.items():
        converter = _GROUP_CONVERTERS[group]  # the setting's own: it refuses what it refuses
        base = converter(grouped.get(group, True if group == "media" else None))
        if base is None:  # media=False
            _refuse_media_options(MediaOptions(**values))
        else:
            grouped[group] = attrs.evolve(base, **values)
    return grouped


def _refuse_media_options(options: MediaOptions) -> None:
    """With media off, options that would do something (play, record) are a mistake."""
    if options.speaker not in (None, False):
        raise ConfigError("speaker needs media=True")
    if options.record is not None:
        raise ConfigError("record needs media=True")


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
    history_max_turns: int | None = attrs.field(default=None, validator=optional(positive_int))
    greet_first: bool = attrs.field(default=False, validator=flag)
    model: str | None = attrs.field(default=None, validator=_query_text)
    timeouts: Timeouts = attrs.field(factory=Timeouts, converter=_timeouts)
    limits: Limits = attrs.field(factory=Limits, converter=_limits)
    #: reconnect after losing a ready session (None: never; see ReconnectPolicy)
    reconnect: ReconnectPolicy | None = attrs.field(default=None, converter=_reconnect_policy)
    #: the avatar's WebRTC media; None: none (text only, the offer is never answered)
    media: MediaOptions | None = attrs.field(factory=MediaOptions, converter=_media)
    audio: AudioOptions = attrs.field(factory=AudioOptions, converter=_audio)
    network: NetworkOptions = attrs.field(factory=NetworkOptions, converter=_network)

    def __attrs_post_init__(self) -> None:
        remember_secret(self.license, self)
        parts = urlsplit(self.url)
        proxy = urlsplit(self.network.proxy) if isinstance(self.network.proxy, str) else None
        for credential in (
            parts.username,  # ws://user:password@host
            parts.password,
            proxy and proxy.username,  # http://user:password@proxy
            proxy and proxy.password,
        ):
            if credential:
                remember_secret(credential, self)
        if self.avatar_id is None and self.avatar_name is None:
            raise ConfigError("name an avatar: pass avatar_id=... or avatar_name=...")
        if self.audio.wait_for_media and self.media is None:
            raise ConfigError("audio_wait_for_media needs media=True (it waits for ICE)")
        if self.audio.half_duplex and self.media is None:
            raise ConfigError("half_duplex needs media=True (it listens to the avatar's voice)")
        self._check_echo_cancellation()
        if len(self.replayed_history) > self.limits.send_queue // 2:
            # replayed from the reader thread, which must never wait for room in the queue
            raise ConfigError(
                f"{len(self.replayed_history)} history turns to replay do not fit in half the "
                f"send queue ({self.limits.send_queue}): pass history_max_turns=... or a larger "
                "send_queue_size"
            )

    def _check_echo_cancellation(self) -> None:
        audio = self.audio
        if audio.echo_cancellation is False and (audio.noise_suppression or audio.auto_gain):
            raise ConfigError(
                "noise_suppression and auto_gain run in the echo canceller: they need "
                "echo_cancellation 'auto' or True"
            )
        if audio.echo_cancellation is True:
            missing = echo_canceller_missing()
            if missing:
                raise ConfigError(f"echo_cancellation=True, but {missing}")

    @property
    def echo_cancellation(self) -> tuple[bool, str]:
        """Whether the microphone's audio goes through the echo canceller, and why."""
        audio, media = self.audio, self.media
        if audio.echo_cancellation != "auto":
            return bool(audio.echo_cancellation), f"echo_cancellation={audio.echo_cancellation}"
        if media is None or media.speaker in (None, False):
            return False, "the library does not play the avatar's voice (no speaker=)"
        if audio.half_duplex:
            return False, "half_duplex mutes the microphone instead"
        missing = echo_canceller_missing()
        if missing:
            return False, missing
        return True, "the library plays the avatar's voice and the canceller is installed"

    @classmethod
    def create(cls, license: str | None = None, **options: Any) -> Settings:
        """Settings from keyword arguments, flat ones (``connect_timeout=5``) included; the
        licence defaults to ``$NAVTALK_LICENSE``."""
        if license is None:
            license = os.environ.get(LICENSE_ENV)
        unknown = set(options) - {f.name for f in attrs.fields(cls)} - set(FLAT_NAMES)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        try:
            return cls(license=license, **_apply_flat(options))  # type: ignore[arg-type]
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
        """The avatar query parameter: ``avatarId`` wins over ``name``
        (protocol.md#avatar-selection)."""
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

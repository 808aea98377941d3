"""The grouped settings, as httpx groups ``Timeout`` and ``Limits``: each a frozen value object
handed whole to the part that uses it.

- ``Timeouts``: how long connect, send, close and the keepalive wait (the session).
- ``Limits``: the bounds of the queues and of a message (the session and the event bus).
- ``MediaOptions``: the avatar's WebRTC picture and voice (``rtc.media.AvatarMedia``).
- ``AudioOptions``: the user's audio going up (the uplink and the microphone).
- ``NetworkOptions``: whom to trust and which way out (the dialer, the avatar lookup).

Every field also has a flat keyword, kept from before the groups existed:
``NavTalkClient(connect_timeout=5)`` is ``NavTalkClient(timeouts=Timeouts(connect=5))``. The
flat name is declared once, in the field's ``flat`` metadata; ``FLAT_NAMES`` is read from it.
Adding a setting: a field here (with its flat name), the part that reads it, and a test.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import warnings
from typing import Any, Iterable
from urllib.parse import urlsplit

import attrs

from .errors import ConfigError, InvalidArgument
from .paths import check_new_file
from .redaction import redact
from .validators import flag, int_between, label, optional, positive_int, seconds

__all__ = [
    "AudioOptions",
    "FLAT_NAMES",
    "Limits",
    "MediaOptions",
    "NetworkOptions",
    "Timeouts",
    "record_path",
]

#: The most audio the uplink queue may hold: ten minutes (28.8 MB of 24 kHz PCM16).
MAX_AUDIO_HOLD = 600.0
_RECORD_SUFFIXES = (".mp4", ".mkv")


def _setting(flat: str, default: Any, doc: str, **field: Any) -> Any:
    """A field known to users by the flat keyword ``flat`` too; ``doc`` says what it is (the
    settings table in docs/guides/sessions.md is made from it)."""
    return attrs.field(default=default, metadata={"flat": flat, "doc": doc}, **field)


# --------------------------------------------------------------------------- checks


def _audio_hold(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    seconds(instance, attribute, value)
    if value > MAX_AUDIO_HOLD:
        raise ConfigError(f"{label(attribute)} must be at most {MAX_AUDIO_HOLD:g} s, got {value!r}")


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


def _echo_cancellation(value: Any) -> bool | str:
    choices: dict[object, bool | str] = {"auto": "auto", "on": True, "off": False}
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in choices:
        return choices[value]
    raise ConfigError(f"echo_cancellation is 'auto', True ('on') or False ('off'), not {value!r}")


def record_path(value: Any, error: type[InvalidArgument] = ConfigError) -> str | None:
    """A recording path as a string; ``error`` unless it ends in .mp4 or .mkv."""
    if value is None:
        return None
    return check_new_file(value, "record", _RECORD_SUFFIXES, error)


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


def _region(value: Any) -> tuple[float, float, float, float] | None:
    if value is None:
        return None
    try:
        x0, y0, x1, y1 = (float(part) for part in value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"mouth_region must be None or (x0, y0, x1, y1) fractions, got {value!r}"
        ) from None
    if not (0.0 <= x0 < x1 <= 1.0 and 0.0 <= y0 < y1 <= 1.0):
        raise ConfigError(
            f"mouth_region must satisfy 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1, got {value!r}"
        )
    return (x0, y0, x1, y1)


def _transport_policy(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in ("all", "relay"):
        raise ConfigError(f'{label(attribute)} must be "all" or "relay", got {value!r}')
    if value == "relay":
        from .rtc.ice import RELAY_ONLY_MISSING

        if RELAY_ONLY_MISSING:
            raise ConfigError(RELAY_ONLY_MISSING)


def _ca_file(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not os.path.isfile(value):
        raise ConfigError(
            f"ca_file must be the path of a PEM file of CA certificates, got {value!r}"
        )
    try:  # loaded once here, so that a file that is not PEM is refused now, not at connect()
        ssl.create_default_context(cafile=os.fspath(value))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"ca_file {value!r} holds no usable CA certificate: {exc}") from None
    return os.fspath(value)


def _ssl_context(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, ssl.SSLContext):
        raise ConfigError(f"ssl_context must be an ssl.SSLContext or None, got {value!r}")
    if value is not None and value.protocol == ssl.PROTOCOL_TLS_SERVER:
        raise ConfigError("ssl_context is a server's context (PROTOCOL_TLS_SERVER)")
    if value is not None and value.verify_mode == ssl.CERT_NONE:
        # allowed, as the user's own explicit choice; never quiet
        warnings.warn("ssl_context does not verify certificates (CERT_NONE)", stacklevel=4)


def _proxy(value: Any) -> str | bool | None:
    if value is None or value is False:
        return None if value is None else False
    if not isinstance(value, str):
        raise ConfigError(
            "proxy must be None (from the environment), False (none) or an HTTP proxy's URL "
            f"(http://host:port), got a {type(value).__name__}"
        )
    try:
        parts = urlsplit(value)
        usable = parts.scheme == "http" and bool(parts.hostname) and parts.port is not None
    except ValueError:  # a port that is not a number
        usable = False
    if not usable:
        raise ConfigError(
            "proxy must be an HTTP CONNECT proxy's URL: http://host:port, with user:password "
            "and an @ before the host when it asks for them"
        )
    return value


# --------------------------------------------------------------------------- the groups


@attrs.frozen(kw_only=True)
class Timeouts:
    """Seconds the session waits; each a number > 0 and at most a week."""

    connect: float = _setting(
        "connect_timeout",
        15.0,
        "connect() waits this long for realtime.session.updated",
        validator=seconds,
    )
    send: float = _setting(
        "send_timeout",
        10.0,
        "a send waits this long for room in the bounded send queue",
        validator=seconds,
    )
    close: float = _setting(
        "close_timeout",
        1.0,
        "close() takes at most this long, the recording included, then aborts the socket",
        validator=seconds,
    )
    ping_interval: float | None = _setting(
        "ping_interval",
        20.0,
        "between keepalive pings when nothing else is sent (None: no pings)",
        validator=optional(seconds),
    )
    ping: float = _setting(
        "ping_timeout",
        10.0,
        "without a pong after a ping, the connection counts as dead after this long",
        validator=seconds,
    )


@attrs.frozen(kw_only=True)
class Limits:
    """The bounds that keep memory flat whatever the server or the callbacks do."""

    event_queue: int = _setting(
        "event_queue_size",
        10_000,
        "events between the reader and the dispatcher; never dropped: when full the reader "
        "waits and the socket backs up",
        validator=positive_int,
    )
    send_queue: int = _setting(
        "send_queue_size",
        256,
        "frames waiting to be written; when full a send waits up to ``Timeouts.send``, then raises",
        validator=positive_int,
    )
    max_message_size: int = _setting(
        "max_message_size",
        16 * 1024 * 1024,
        "the longest message (bytes) taken from the server; a longer one ends the session "
        "before any of it is read (the largest legitimate ones, SDP offers and audio "
        "deltas, are tens of kilobytes)",
        validator=int_between(1024, 2**31, "a number of bytes"),
    )


@attrs.frozen(kw_only=True)
class MediaOptions:
    """The avatar's WebRTC picture and voice (protocol.md#webrtc-signaling).

    ``media=False`` on the client means no media at all (``Settings.media`` is then None).
    """

    video: bool = _setting(
        "video",
        True,
        "decode the avatar's picture; False: voice only (the picture still arrives, as the "
        "service always sends it, but is dropped undecoded: about 5 % of a core saved)",
        validator=flag,
    )
    speaker: bool | int | str | None = _setting(
        "speaker",
        None,
        "play the avatar's voice: None/False (no), True (default output), a device index or name",
        validator=_speaker,
    )
    record: str | None = _setting(
        "record",
        None,
        "record the avatar's picture and voice to this .mp4/.mkv file from the start",
        converter=record_path,
    )
    record_user_audio: bool = _setting(
        "record_user_audio",
        False,
        "recordings keep the user's voice too (what went up, after echo cancellation), as a "
        "second audio stream",
        validator=flag,
    )
    record_subtitles: bool = _setting(
        "record_subtitles",
        False,
        "recordings carry the conversation's text: a WebVTT file beside (call.mp4 -> "
        "call.vtt), and an .mp4's timed-text track",
        validator=flag,
    )
    ice_host_addresses: str | tuple[str, ...] | None = _setting(
        "ice_host_addresses",
        "auto",
        'host addresses for ICE candidates: "auto" (127.0.0.1 for a loopback server, else'
        " aioice's own choice), None (aioice's own choice) or a list (process-wide, see "
        "rtc.ice)",
        converter=_host_addresses,
    )
    ice_transport_policy: str = _setting(
        "ice_transport_policy",
        "all",
        '"all" (every candidate) or "relay" (only through the TURN server the service names: '
        "for networks where nothing else gets through)",
        validator=_transport_policy,
    )
    stun_fallback: bool = _setting(
        "stun_fallback",
        False,
        "use stun:stun.l.google.com:19302 when the server names no ICE servers",
        validator=flag,
    )
    timeout: float = _setting(
        "media_timeout",
        15.0,
        "seconds from connected.success until the media must be connected",
        validator=seconds,
    )
    stall_timeout: float = _setting(
        "stall_timeout",
        3.0,
        "seconds without a video frame before the media counts as stalled",
        validator=seconds,
    )
    mouth_region: tuple[float, float, float, float] | None = _setting(
        "mouth_region",
        (0.30, 0.55, 0.70, 0.80),
        "where the avatar's mouth is, as (x0, y0, x1, y1) fractions of the picture (a centred "
        "head-and-shoulders portrait), for client.turn's mouth_moving; None: not measured",
        converter=_region,
    )
    required: bool = _setting(
        "media_required",
        False,
        "end the session (MediaError) when the media fails, instead of going on without it",
        validator=flag,
    )


@attrs.frozen(kw_only=True)
class AudioOptions:
    """The user's audio going up (protocol.md#audio-append)."""

    chunk_samples: int = _setting(
        "audio_chunk_samples",
        1536,
        "samples of 24 kHz audio per input_audio_buffer.append (1536 = 64 ms = 4096 base64 chars)",
        validator=int_between(1, 24_000),
    )
    hold_seconds: float = _setting(
        "audio_hold_seconds",
        5.0,
        "seconds of audio the uplink queue holds before the gate opens or behind a slow "
        "socket (full: blocking sends wait up to ``Timeouts.send``, the microphone drops "
        "its oldest)",
        validator=_audio_hold,
    )
    wait_for_media: bool = _setting(
        "audio_wait_for_media",
        False,
        "hold the user's audio until the avatar's media (ICE) is connected too, not only "
        "until realtime.session.updated (what the iOS SDK and the Flutter sample do)",
        validator=flag,
    )
    half_duplex: bool = _setting(
        "half_duplex",
        False,
        "mute the microphone (send silence) while the avatar's voice is heard, so a "
        "speaker's sound reaching the microphone cannot barge in on the avatar",
        validator=flag,
    )
    echo_cancellation: bool | str = _setting(
        "echo_cancellation",
        "auto",
        "take the avatar's voice out of the microphone's audio (the [aec] extra): 'auto' is on "
        "when the library plays the avatar (speaker=) and the extra is installed, unless "
        "half_duplex; True also cancels what you report with feed_echo_reference()",
        converter=_echo_cancellation,
    )
    noise_suppression: bool = _setting(
        "noise_suppression",
        False,
        "with echo cancellation on: also suppress steady background noise (fans, hum)",
        validator=flag,
    )
    auto_gain: bool = _setting(
        "auto_gain",
        False,
        "with echo cancellation on: also even out the microphone's level (a far or quiet speaker)",
        validator=flag,
    )


@attrs.frozen(kw_only=True)
class NetworkOptions:
    """Whom the client trusts and which way it goes out: for the WebSocket and for
    ``get_avatar()`` (WebRTC media goes its own way: TURN, see ``MediaOptions``)."""

    ca_file: str | None = _setting(
        "ca_file",
        None,
        "trust the CA certificates in this PEM file instead of the system's (a private CA)",
        converter=_ca_file,
    )
    ssl_context: ssl.SSLContext | None = _setting(  # noqa: RUF009 (a field, as every one here)
        "ssl_context",
        None,
        "an ssl.SSLContext of your own for wss:// and https:// (instead of ca_file)",
        validator=_ssl_context,
    )
    proxy: str | bool | None = _setting(
        "proxy",
        None,
        "an HTTP CONNECT proxy, http://host:port (user:password@ before the host if it asks); "
        "None: from HTTPS_PROXY/NO_PROXY (never for loopback); False: none",
        converter=_proxy,
        repr=lambda value: repr(redact(value) if isinstance(value, str) else value),
    )

    def __attrs_post_init__(self) -> None:
        if self.ca_file is not None and self.ssl_context is not None:
            raise ConfigError("pass ca_file or ssl_context, not both")


#: The settings field each group fills.
GROUPS: dict[str, type[Any]] = {
    "timeouts": Timeouts,
    "limits": Limits,
    "media": MediaOptions,
    "audio": AudioOptions,
    "network": NetworkOptions,
}

#: Flat keyword -> (settings field of its group, field in the group).
FLAT_NAMES: dict[str, tuple[str, str]] = {
    field.metadata["flat"]: (group, field.name)
    for group, cls in GROUPS.items()
    for field in attrs.fields(cls)
}

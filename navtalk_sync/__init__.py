"""navtalk_sync: a live NavTalk digital human from plain, synchronous Python.

::

    import navtalk_sync as nt

    with nt.NavTalkClient(license="sk_navtalk_...", avatar_name="navtalk.Leo") as client:
        client.connect(timeout=15)
        print(client.ask("What can you do?", timeout=30))

The local NavTalk-compatible server lives in ``navtalk_sync.server`` (``LocalServer``).
"""

from . import events, messages
from .audio.devices import AudioDevice, list_audio_devices
from .audio.echo import echo_canceller_missing
from .audio.uplink import AudioStream
from .avatars import AvatarInfo, ProviderWarning, get_avatar
from .client import NavTalkClient
from .config import Settings, install_redaction, redact
from .dispatch import Handle, Subscription
from .errors import (
    AudioDeviceError,
    AvatarLookupFailed,
    AvatarNotFound,
    BackendError,
    CertificateError,
    ConfigError,
    ConnectionFailed,
    ConnectionLimitExceeded,
    Disconnected,
    GpuFull,
    InsufficientBalance,
    InvalidArgument,
    MediaError,
    MissingExtra,
    NavTalkError,
    NavTalkTimeout,
    NotConnected,
    ProxyError,
    ReconnectFailed,
    RecordingError,
    ResponseFailed,
    ServerClosed,
    ServerNotice,
    SubscriptionOverflow,
    TransportError,
)
from .events import Event
from .expectation import Expectation
from .history import History, Turn
from .options import AudioOptions, Limits, MediaOptions, NetworkOptions, Timeouts
from .retry import ReconnectPolicy
from .rtc.media import MediaState
from .rtc.recorder import RecordingSummary
from .rtc.video import VideoFrame
from .rtc.voice import AvatarAudio
from .session import State
from .tools import Tool

__version__ = "0.2.0"

__all__ = [
    "NavTalkClient",
    "Settings",
    "Timeouts",
    "Limits",
    "MediaOptions",
    "AudioOptions",
    "NetworkOptions",
    "State",
    "MediaState",
    "Event",
    "VideoFrame",
    "AvatarAudio",
    "RecordingSummary",
    "AudioDevice",
    "AudioStream",
    "list_audio_devices",
    "echo_canceller_missing",
    "History",
    "Turn",
    "Tool",
    "Handle",
    "Subscription",
    "Expectation",
    "events",
    "messages",
    "redact",
    "NavTalkError",
    "InvalidArgument",
    "ConfigError",
    "NavTalkTimeout",
    "MissingExtra",
    "NotConnected",
    "TransportError",
    "CertificateError",
    "ProxyError",
    "Disconnected",
    "SubscriptionOverflow",
    "ResponseFailed",
    "MediaError",
    "AudioDeviceError",
    "RecordingError",
    "ServerNotice",
    "ConnectionFailed",
    "ServerClosed",
    "InsufficientBalance",
    "GpuFull",
    "ConnectionLimitExceeded",
    "BackendError",
    "__version__",
    # avatar lookup
    "get_avatar",
    "AvatarInfo",
    "ProviderWarning",
    "AvatarLookupFailed",
    "AvatarNotFound",
    # reliability
    "ReconnectPolicy",
    "ReconnectFailed",
]

# No licence may reach a log handler: each module's logger gets the filter from
# logs.get_logger; these are the package's own and websocket-client's trace output.
install_redaction(__name__, "websocket")

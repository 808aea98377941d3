"""The exception hierarchy: everything the library raises derives from ``NavTalkError``.

::

    NavTalkError
    ├── InvalidArgument (ValueError)     a bad argument to a call
    │   └── ConfigError                  a bad setting
    ├── NavTalkTimeout (TimeoutError)    a blocking call ran out of time; names what it awaited
    ├── NotConnected                     the call needs a live session and there is none
    ├── MissingExtra (ImportError)       a part needs an extra that is not installed
    ├── TransportError                   the socket could not be opened or broke
    │   ├── CertificateError             the server's TLS certificate was refused
    │   └── ProxyError                   the HTTP proxy could not be used
    ├── Disconnected                     the session ended while a call was waiting
    │   └── ReconnectFailed              it was lost and reconnection gave up
    ├── SubscriptionOverflow             an ``events()`` consumer fell too far behind
    ├── ResponseFailed                   the server reported that a reply failed
    ├── AvatarLookupFailed               the avatar lookup failed (protocol.md#avatar-api)
    │   └── AvatarNotFound               no avatar has that name or id
    ├── MediaError                       the avatar's WebRTC media failed
    │   ├── AudioDeviceError             an audio device could not be opened, or failed
    │   └── RecordingError               a recording could not be started or written
    └── ServerNotice                     a ``conversation.connected.*`` notice ended the session
        ├── ConnectionFailed             ``fail`` (also an HTTP-level handshake rejection)
        ├── ServerClosed                 ``close``
        ├── InsufficientBalance          ``insufficient_balance``, or "Insufficient points"
        ├── GpuFull                      ``gpu_full``            (retryable)
        ├── ConnectionLimitExceeded      ``connection_limit_exceeded``
        └── BackendError                 ``backend_error``       (retryable)

Messages never contain a secret, whatever their source (a server may echo the licence): the
base class passes every text it is given through ``redaction.redact``, and so do the classes
that keep a text as an attribute.
"""

from __future__ import annotations

from typing import Any, ClassVar

from . import events
from .events import Event
from .redaction import redact


class NavTalkError(Exception):
    """Base class of every error raised by navtalk_sync."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*(redact(arg) if isinstance(arg, str) else arg for arg in args))


class InvalidArgument(NavTalkError, ValueError):
    """An argument is invalid; the message says what was wrong and what is accepted."""


class ConfigError(InvalidArgument):
    """A setting is invalid; the message says what was wrong and what is accepted."""


class NavTalkTimeout(NavTalkError, TimeoutError):
    """A blocking call ran out of time. ``awaited`` names what it was waiting for."""

    def __init__(self, awaited: str, timeout: float, detail: str = "") -> None:
        self.awaited = awaited
        self.timeout = timeout
        text = f"timed out after {timeout:g} s waiting for {awaited}"
        super().__init__(f"{text} ({detail})" if detail else text)


class MissingExtra(NavTalkError, ImportError):
    """A part of the library needs an extra that is not installed; the message says which and
    how to install it (``pip install 'navtalk-sync[server]'``)."""


class NotConnected(NavTalkError):
    """The call needs a live session (connect() first, or the session has ended)."""


class TransportError(NavTalkError):
    """The WebSocket could not be opened, or it broke."""


class CertificateError(TransportError):
    """The server's TLS certificate was refused; ``check`` says which check failed (as OpenSSL
    words it: "certificate has expired", "Hostname mismatch, ...", "unable to get local issuer
    certificate"). Never retried: trust the right CA (``ca_file=``) or fix the server."""

    def __init__(self, message: str, check: str) -> None:
        super().__init__(message)
        self.check = redact(check)


class ProxyError(TransportError):
    """The HTTP proxy could not be reached, or refused the tunnel. ``proxy`` is the proxy's
    address without its credentials; ``status_code`` the proxy's HTTP answer (None when there
    was none). A refusal (407 for credentials, 403) is not retried."""

    def __init__(self, message: str, proxy: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.proxy = redact(proxy)
        self.status_code = status_code


class Disconnected(NavTalkError):
    """The session ended while a call was waiting. ``code``/``reason`` come from the close."""

    def __init__(self, message: str, code: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = redact(reason) if reason is not None else None


class ReconnectFailed(Disconnected):
    """The session was lost and reconnection gave up. ``attempts`` were made; ``last_error``
    is why the last one failed (or why the session was lost, when no attempt was made)."""

    def __init__(self, message: str, attempts: int, last_error: BaseException | None) -> None:
        code = getattr(last_error, "code", None)
        reason = getattr(last_error, "reason", None)
        super().__init__(message, code if isinstance(code, int) else None,
                         reason if isinstance(reason, str) else None)  # fmt: skip
        self.attempts = attempts
        self.last_error = last_error


class SubscriptionOverflow(NavTalkError):
    """An ``events()`` subscription's queue filled up: its consumer fell behind."""


class AvatarLookupFailed(NavTalkError):
    """An avatar lookup over HTTPS failed: unreachable, refused (e.g. a wrong licence), or an
    answer whose envelope ``code`` is not 200.

    ``status_code`` is the HTTP status (None when no answer came), ``code`` the envelope's code
    (None when the answer had none), ``message`` the server's message (licence removed).
    """

    def __init__(
        self, message: str, status_code: int | None = None, code: int | str | None = None
    ) -> None:
        super().__init__(message)
        self.message = redact(message)
        self.status_code = status_code
        self.code = redact(code) if isinstance(code, str) else code


class AvatarNotFound(AvatarLookupFailed):
    """No avatar has that name or id (HTTP 404, envelope code 404, or no data)."""


class MediaError(NavTalkError):
    """The avatar's media failed (no offer, ICE did not connect, a device or file failed).

    The session ends with it only when the client was made with ``media_required=True``.
    """


class AudioDeviceError(MediaError):
    """An audio device could not be opened, or failed while in use."""


class RecordingError(MediaError):
    """The recording could not be started or failed while writing (``close()`` raises it).

    ``summary`` (a ``RecordingSummary``) holds what was written before the failure (None when
    it never started).
    """

    def __init__(self, message: str, summary: object | None = None) -> None:
        super().__init__(message)
        self.summary = summary


class ResponseFailed(NavTalkError):
    """The server reported that a reply failed (``realtime.response.error``)."""

    def __init__(self, message: str, event: Event | None = None) -> None:
        super().__init__(message)
        self.event = event


class ServerNotice(NavTalkError):
    """A ``conversation.connected.*`` notice that ended (or refused) the session.

    Each kind names the notice event it is raised for, in ``EVENT``; its wire name
    (``NOTICE``) and whether trying again later may succeed (``retryable``) come from there.
    """

    #: The notice event this exception is raised for.
    EVENT: ClassVar[type[events.ConnectionNotice]] = events.ConnectionNotice
    #: The notice's wire name.
    NOTICE: ClassVar[str] = ""
    #: True when trying again later may succeed.
    retryable: ClassVar[bool] = False

    def __init_subclass__(cls, **options: Any) -> None:
        super().__init_subclass__(**options)
        cls.NOTICE, cls.retryable = cls.EVENT.TYPE, cls.EVENT.RETRYABLE

    def __init__(self, message: str | None = None, event: Event | None = None) -> None:
        self.message = redact(message or "")
        self.event = event
        super().__init__(f"{self.NOTICE or 'server notice'}: {self.message or 'no message'}")


class ConnectionFailed(ServerNotice):
    """Setup failed (bad licence, unknown avatar, ...); also a handshake refused over HTTP."""

    EVENT = events.ConnectedFail

    def __init__(
        self, message: str | None = None, event: Event | None = None, status_code: int | None = None
    ) -> None:
        self.status_code = status_code
        super().__init__(message, event)


class ServerClosed(ServerNotice):
    EVENT = events.ConnectedClose


class InsufficientBalance(ServerNotice):
    EVENT = events.InsufficientBalanceNotice


class GpuFull(ServerNotice):
    EVENT = events.GpuFullNotice


class ConnectionLimitExceeded(ServerNotice):
    EVENT = events.ConnectionLimitExceededNotice


class BackendError(ServerNotice):
    EVENT = events.BackendErrorNotice


def raised_again(error: NavTalkError) -> NavTalkError:
    """A new exception like ``error`` (same class, message and attributes) whose cause is
    ``error``, for raising a stored error once more: raising the same object again and again
    would add the frames of every raise to its traceback, without end."""
    clone = type(error).__new__(type(error))
    clone.__dict__.update(error.__dict__)
    clone.args = error.args
    clone.__cause__ = error
    clone.__suppress_context__ = True
    return clone


#: notice wire name -> the exception it raises.
NOTICE_ERRORS: dict[str, type[ServerNotice]] = {
    cls.NOTICE: cls
    for cls in (
        ConnectionFailed,
        ServerClosed,
        InsufficientBalance,
        GpuFull,
        ConnectionLimitExceeded,
        BackendError,
    )
}

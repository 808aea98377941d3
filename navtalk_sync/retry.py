"""When the client reconnects, and how long it waits first (protocol.md#reconnection).

``ReconnectPolicy`` is pure: it decides from an error whether a new session may help, and
gives the delay before each attempt (exponential backoff with jitter). The ``Connection``
(connection.py) carries the attempts out.
"""

from __future__ import annotations

import random
from typing import Any, Callable

import attrs

from .errors import (
    CertificateError,
    ConfigError,
    ConnectionFailed,
    Disconnected,
    NavTalkTimeout,
    ProxyError,
    ServerNotice,
    TransportError,
)
from .timeouts import check_seconds

__all__ = ["ReconnectPolicy", "NORMAL_CLOSURE"]

#: The close code of a connection the server ended on purpose (RFC 6455 7.4.1).
NORMAL_CLOSURE = 1000


def _seconds(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    check_seconds(value, attribute.name, error=ConfigError)


def _optional_seconds(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _seconds(instance, attribute, value)


def _factor(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 100:
        raise ConfigError(f"{attribute.name} must be a number from 1 to 100, got {value!r}")


def _fraction(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"{attribute.name} must be a number in [0, 1), got {value!r}")


def _attempts(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1_000_000:
        raise ConfigError(f"{attribute.name} must be an integer from 1 to 1000000, got {value!r}")


@attrs.frozen(kw_only=True)
class ReconnectPolicy:
    """How a client with ``reconnect=...`` gets a lost session back.

    After a session that was ready ends for a reason a new session may cure (see
    ``retries()``), the client waits ``delay(n)`` seconds and opens a new session, which
    replays the conversation's user turns (protocol.md#history-replay). It gives up after
    ``max_attempts`` attempts or once ``max_duration`` seconds have passed since the session
    was lost, whichever comes first. Every attempt waits at most ``attempt_timeout``
    seconds for ``realtime.session.updated`` (None: the client's ``connect_timeout``).

    Delays grow from ``first_delay`` by ``factor`` up to ``max_delay``; each is then spread
    by up to ``jitter`` of itself either way, so many clients dropped at once do not come back
    in step.
    """

    max_attempts: int = attrs.field(default=8, validator=_attempts)
    first_delay: float = attrs.field(default=0.5, validator=_seconds)
    max_delay: float = attrs.field(default=15.0, validator=_seconds)
    factor: float = attrs.field(default=2.0, validator=_factor)
    jitter: float = attrs.field(default=0.25, validator=_fraction)
    max_duration: float = attrs.field(default=120.0, validator=_seconds)
    attempt_timeout: float | None = attrs.field(default=None, validator=_optional_seconds)

    def delay(self, attempt: int, draw: Callable[[], float] = random.random) -> float:
        """Seconds to wait before attempt number ``attempt`` (1 for the first)."""
        base = self.first_delay
        for _ in range(attempt - 1):  # grown step by step: factor ** attempt may overflow
            if base >= self.max_delay:
                break
            base *= self.factor
        base = min(self.max_delay, base)
        spread = 1.0 + self.jitter * (2.0 * draw() - 1.0)
        return max(0.0, base * spread)

    @staticmethod
    def retries(error: BaseException) -> bool:
        """May a new session cure what ended this one?

        Yes for a dropped connection (no close frame, or a close code other than 1000), a
        ``gpu_full`` or ``backend_error`` notice, a server that cannot be reached or does not
        set up in time, and an HTTP 5xx or 429 refusal. Never for the ``fail``, ``close``,
        ``insufficient_balance`` and ``connection_limit_exceeded`` notices, a normal close
        by the server, or a failure of the avatar's media; nor for a refused TLS certificate or
        a proxy's refusal (HTTP 4xx), which a new attempt would meet again.
        """
        if isinstance(error, CertificateError):
            return False
        if isinstance(error, ProxyError) and error.status_code is not None:
            return error.status_code >= 500
        if isinstance(error, ConnectionFailed):
            code = error.status_code
            return code is not None and (code >= 500 or code == 429)
        if isinstance(error, ServerNotice):
            return error.retryable
        if isinstance(error, Disconnected):
            return error.code != NORMAL_CLOSURE
        return isinstance(error, (TransportError, NavTalkTimeout))

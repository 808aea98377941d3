"""Fault injection for the local server (protocol.md#fault-injection).

A ``Faults`` object is mutable and shared with the running server: every field is read at the
moment it matters (the upgrade, the session start, each reply), so a test may change it between
connections or between replies. Everything is off by default. ``up_to_connection`` limits every
connection fault to the first connections, so "refused twice, then served" needs no timing.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any, Callable

import attrs

__all__ = ["Faults", "NOTICE_KINDS", "OFFER_TIMINGS", "DROP_POINTS", "SETUP_STEPS"]

#: The ``conversation.connected.<kind>`` notices the server can send (success is not a notice).
NOTICE_KINDS: tuple[str, ...] = (
    "fail",
    "close",
    "insufficient_balance",
    "gpu_full",
    "connection_limit_exceeded",
    "backend_error",
    "warning",
)

#: Where the WebRTC offer goes in the setup sequence: unknown for the hosted service, so
#: choosable (protocol.md#server-setup).
OFFER_TIMINGS: tuple[str, ...] = ("after_success", "after_created", "after_updated")

#: Where ``drop_at`` aborts the TCP connection (see ``Faults``).
DROP_POINTS: tuple[str, ...] = (
    "handshake",
    "after_success",
    "after_created",
    "mid_reply",
    "mid_audio",
)

#: The setup events a ``setup_sequence`` is made of: ``conversation.connected.success``, the
#: WebRTC offer, ``realtime.session.created`` and ``realtime.session.updated``.
SETUP_STEPS: tuple[str, ...] = ("success", "offer", "created", "updated")

#: The setup sequence each ``offer_timing`` stands for.
_SEQUENCE_OF_TIMING: dict[str, tuple[str, ...]] = {
    "after_success": ("success", "offer", "created", "updated"),
    "after_created": ("success", "created", "offer", "updated"),
    "after_updated": ("success", "created", "updated", "offer"),
}


def _offer_timing(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if value not in OFFER_TIMINGS:
        raise ValueError(f"{attribute.name} must be one of {', '.join(OFFER_TIMINGS)}")


def _optional_seconds(
    instance: object, attribute: attrs.Attribute[Any], value: float | None
) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{attribute.name} must be None or 0 or more seconds, got {value!r}")


def _drop_point(instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and value not in DROP_POINTS:
        raise ValueError(f"{attribute.name} must be one of {', '.join(DROP_POINTS)} or None")


def _count(minimum: int) -> Callable[[object, attrs.Attribute[Any], Any], None]:
    """A validator: an int of at least ``minimum`` (None allowed when the default is None)."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is None and attribute.default is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            allowed = " or None" if attribute.default is None else ""
            raise ValueError(
                f"{attribute.name} must be an integer >= {minimum}{allowed}, got {value!r}"
            )

    return check


def _steps(value: Any) -> Any:
    """A list of steps becomes a tuple; anything else is left for the validator to refuse."""
    return tuple(value) if isinstance(value, list) else value


def _setup_sequence(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if (
        not isinstance(value, tuple)
        or not value
        or not all(isinstance(step, str) and step in SETUP_STEPS for step in value)
    ):
        raise ValueError(
            f"{attribute.name} must be None or a non-empty tuple of steps from "
            f"{', '.join(SETUP_STEPS)}, got {value!r}"
        )


def _notice_kind(instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and value not in NOTICE_KINDS:
        raise ValueError(f"{attribute.name} must be one of {', '.join(NOTICE_KINDS)} or None")


def _http_status(instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is None:
        return
    try:
        status = HTTPStatus(value)
    except ValueError:
        status = None
    if isinstance(value, bool) or status is None or status < 400:
        raise ValueError(f"{attribute.name} must be an HTTP error status (e.g. 401) or None")


def _envelope_code(instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value == 200:
        raise ValueError(f"{attribute.name} must be an integer other than 200, or None")


@attrs.define
class Faults:
    """What to break. Validators also run when a field is assigned later.

    Which connections (``up_to_connection``):

    - ``up_to_connection``: when set, every connection fault below (all fields but
      ``avatar_lookup_code``) applies only to connections whose id is at most this number;
      later connections are served normally. Connection ids are the server's 1-based counter
      (``ConnectionInfo.id``), given to every upgrade request for the endpoint path as soon as
      it is read, so the connections refused by ``reject_http``, ``stall_handshake`` or
      ``drop_at="handshake"`` count too (they appear in ``LocalServer.connections`` with
      ``session_id=None`` and ``open=False`` once over). ``up_to_connection=2`` with
      ``setup_notice="gpu_full"``: connections 1 and 2 get gpu_full, connection 3 works.
      Requests for another path (404) and avatar lookups over HTTP are not connections.

    The upgrade (the HTTP handshake):

    - ``reject_http``: refuse the WebSocket upgrade with this HTTP status (e.g. 401).
    - ``stall_handshake``: read the upgrade request and never answer it, until the client goes
      away or the server stops (which ends every stalled handshake at once).
    - ``drop_at="handshake"``: read the upgrade request, then abort the TCP connection with no
      HTTP response.

    When several are set, the first of ``drop_at="handshake"``, ``stall_handshake`` and
    ``reject_http`` applies.

    The setup sequence (protocol.md#server-setup):

    - ``setup_notice``: a notice kind sent instead of ``conversation.connected.success``;
      with ``setup_notice_after_success`` it follows success instead (before
      ``realtime.session.updated``, which then never comes); ``close_after_notice=False``
      leaves the socket open after the notice.
    - ``stall_before_session_updated``: send success and ``session.created``, never
      ``session.updated``; keep reading and recording messages.
    - ``setup_sequence``: the setup events in this order instead of the one ``offer_timing``
      gives, for duplicate and out-of-order events: a tuple of steps from ``SETUP_STEPS``
      (``"success"``, ``"offer"``, ``"created"``, ``"updated"``), repeats allowed, e.g.
      ``("success", "created", "updated", "updated")`` or ``("created", "success",
      "updated")``. A repeated ``"success"`` carries the same session id (the avatar warning
      and ``frames_after_success`` follow the first only); a repeated ``"offer"`` sends the
      same offer again; the history wait follows every ``"created"``; replies may start once
      the whole sequence is sent, if it has an ``"updated"``. ``setup_notice`` (after
      success) follows the first ``"success"``; ``stall_before_session_updated`` stops at
      the first ``"updated"``.
    - ``frames_after_success``: raw frames (text or bytes) sent right after success.
    - ``drop_at``: abort the TCP connection (no close frame, the client sees 1006) at one of
      ``DROP_POINTS``: ``"handshake"`` (above); ``"after_success"``, right after
      ``conversation.connected.success`` (and after the offer, when it comes next);
      ``"after_created"``, right after ``realtime.session.created`` (and the offer, when it
      comes next), before ``realtime.session.updated``; ``"mid_reply"``, right after a reply's
      first transcript delta; ``"mid_audio"``, right after the connection's
      ``drop_audio_after``-th ``realtime.input_audio_buffer.append`` (default 5).

    The session:

    - ``slow_reader_after``: this many seconds after ``realtime.session.updated``, stop
      reading the connection (as ``LocalServer.freeze_connections()`` does): the client's
      frames pile up in the socket buffers until its sends block, and its pings go
      unanswered. The server still sends.
    - ``drop_mid_reply``: the same as ``drop_at="mid_reply"`` (the older name).
    - ``legacy_names``: emit ``realtime.session.gpu_full`` /
      ``realtime.session.insufficient_balance`` for those notices and the v1 reply events
      (``response.audio_transcript.delta`` with top-level ``delta`` + ``response_id``, ...).
    - ``frames_before_reply``: raw frames sent just before each reply's first delta.
    - ``close_reason_after_reply``: close (code 1000) with this reason after a reply ends.

    WebRTC (protocol.md#webrtc-signaling, protocol.md#server-setup):

    - ``offer_timing``: when the offer goes out: ``"after_success"`` (the default: right
      after success and any warning, before ``session.created``), ``"after_created"``
      (between ``session.created`` and ``session.updated``) or ``"after_updated"``.
      ``setup_sequence`` overrides it.
    - ``no_offer``: never send an offer (a later answer is refused).
    - ``offer_unreachable``: the offer's candidates point at a loopback port where nothing
      listens, and the server ignores the client's candidates, so ICE never connects; the SDP
      is otherwise valid.
    - ``media_stop_after``: this many seconds after ICE connects, the face and voice stop
      for good (no more RTP) while ICE and the socket stay up.

    Avatar lookup over HTTP (protocol.md#avatar-api), not limited by ``up_to_connection``:

    - ``avatar_lookup_code``: the avatar endpoints answer HTTP 200 with this envelope ``code``
      (any integer but 200, e.g. 500) and no data, after the licence check.
    """

    reject_http: int | None = attrs.field(default=None, validator=_http_status)
    setup_notice: str | None = attrs.field(default=None, validator=_notice_kind)
    setup_notice_after_success: bool = False
    close_after_notice: bool = True
    stall_before_session_updated: bool = False
    drop_mid_reply: bool = False
    legacy_names: bool = False
    frames_after_success: list[str | bytes] = attrs.field(factory=list)
    frames_before_reply: list[str | bytes] = attrs.field(factory=list)
    close_reason_after_reply: str | None = None
    offer_timing: str = attrs.field(default="after_success", validator=_offer_timing)
    no_offer: bool = False
    offer_unreachable: bool = False
    media_stop_after: float | None = attrs.field(default=None, validator=_optional_seconds)
    avatar_lookup_code: int | None = attrs.field(default=None, validator=_envelope_code)
    drop_at: str | None = attrs.field(default=None, validator=_drop_point)
    drop_audio_after: int = attrs.field(default=5, validator=_count(1))
    stall_handshake: bool = False
    slow_reader_after: float | None = attrs.field(default=None, validator=_optional_seconds)
    setup_sequence: tuple[str, ...] | None = attrs.field(
        default=None, converter=_steps, validator=_setup_sequence
    )
    up_to_connection: int | None = attrs.field(default=None, validator=_count(0))

    def applies_to(self, connection_id: int) -> bool:
        """Whether the connection faults act on this connection (see ``up_to_connection``)."""
        return self.up_to_connection is None or connection_id <= self.up_to_connection

    def setup_steps(self) -> tuple[str, ...]:
        """The setup events in the order they go out: ``setup_sequence``, else the order
        ``offer_timing`` gives."""
        if self.setup_sequence is not None:
            return self.setup_sequence
        return _SEQUENCE_OF_TIMING[self.offer_timing]

"""Fault injection for the local server (protocol 8 and 16.8).

A ``Faults`` object is mutable and shared with the running server: every field is read at the
moment it matters (the upgrade, the session start, each reply), so a test may change it between
connections or between replies. Everything is off by default.
"""

from __future__ import annotations

from http import HTTPStatus

import attrs

__all__ = ["Faults", "NOTICE_KINDS", "OFFER_TIMINGS"]

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

#: Where the WebRTC offer goes in the setup sequence (protocol 3.1 #3: unknown, so choosable).
OFFER_TIMINGS: tuple[str, ...] = ("after_success", "after_created", "after_updated")


def _offer_timing(instance: object, attribute: attrs.Attribute, value: str) -> None:
    if value not in OFFER_TIMINGS:
        raise ValueError(f"{attribute.name} must be one of {', '.join(OFFER_TIMINGS)}")


def _optional_seconds(instance: object, attribute: attrs.Attribute, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"{attribute.name} must be None or 0 or more seconds, got {value!r}")


def _notice_kind(instance: object, attribute: attrs.Attribute, value: str | None) -> None:
    if value is not None and value not in NOTICE_KINDS:
        raise ValueError(f"{attribute.name} must be one of {', '.join(NOTICE_KINDS)} or None")


def _http_status(instance: object, attribute: attrs.Attribute, value: int | None) -> None:
    if value is None:
        return
    try:
        status = HTTPStatus(value)
    except ValueError:
        status = None
    if isinstance(value, bool) or status is None or status < 400:
        raise ValueError(f"{attribute.name} must be an HTTP error status (e.g. 401) or None")


def _envelope_code(instance: object, attribute: attrs.Attribute, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value == 200:
        raise ValueError(f"{attribute.name} must be an integer other than 200, or None")


@attrs.define
class Faults:
    """What to break. Validators also run when a field is assigned later.

    - ``reject_http``: refuse the WebSocket upgrade with this HTTP status (e.g. 401).
    - ``setup_notice``: a notice kind sent instead of ``conversation.connected.success``;
      with ``setup_notice_after_success`` it follows success instead (before
      ``realtime.session.updated``, which then never comes); ``close_after_notice=False``
      leaves the socket open after the notice.
    - ``stall_before_session_updated``: send success and ``session.created``, never
      ``session.updated``; keep reading and recording messages.
    - ``drop_mid_reply``: drop the TCP connection (no close frame) right after a reply's
      first delta.
    - ``legacy_names``: emit ``realtime.session.gpu_full`` /
      ``realtime.session.insufficient_balance`` for those notices and the v1 reply events
      (``response.audio_transcript.delta`` with top-level ``delta`` + ``response_id``, ...).
    - ``frames_after_success``: raw frames (text or bytes) sent right after success.
    - ``frames_before_reply``: raw frames sent just before each reply's first delta.
    - ``close_reason_after_reply``: close (code 1000) with this reason after a reply ends.

    WebRTC (protocol 7, 16.3, 16.8):

    - ``offer_timing``: when the offer goes out: ``"after_success"`` (the default: right
      after success and any warning, before ``session.created``), ``"after_created"``
      (between ``session.created`` and ``session.updated``) or ``"after_updated"``.
    - ``no_offer``: never send an offer (a later answer is refused).
    - ``offer_unreachable``: the offer's candidates point at a loopback port where nothing
      listens, and the server ignores the client's candidates, so ICE never connects; the SDP
      is otherwise valid.
    - ``media_stop_after``: this many seconds after ICE connects, the face and voice stop
      for good (no more RTP) while ICE and the socket stay up.

    Avatar lookup over HTTP (protocol 1.2):

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

"""Deciding, from the upgrade request alone, whether a connection gets a session.

Pure: the query string and the server's licence and avatars in, an ``Admission`` out. The
session module turns a refusal into ``conversation.connected.fail`` (protocol.md#admission).
"""

from __future__ import annotations

import hmac
from typing import Sequence
from urllib.parse import parse_qsl

import attrs

from .avatars import Avatar, find_avatar

__all__ = ["Admission", "admit", "parse_query", "redact_query"]

LICENSE_KEY = "license"
REDACTED = "***"


@attrs.frozen
class Admission:
    """What the upgrade request asked for and what the server decided.

    ``failure`` is the ``conversation.connected.fail`` message, or None when admitted.
    ``query`` never holds the licence (its value is replaced by ``***``).
    """

    query: dict[str, str]
    license_ok: bool
    avatar: Avatar | None
    ambiguous: bool
    model: str | None
    failure: str | None


def parse_query(query: str) -> dict[str, str]:
    """Percent-decoded query parameters; for a repeated key the first value wins."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True, encoding="utf-8"):
        params.setdefault(key, value)
    return params


def redact_query(params: dict[str, str]) -> dict[str, str]:
    """The parameters with the licence value hidden, safe to log and to show."""
    return {k: (REDACTED if k == LICENSE_KEY else v) for k, v in params.items()}


def _license_failure(given: str | None, expected: str | None) -> str | None:
    if not given:
        return "License missing: add license=<key> to the query string"
    if expected is None:  # an open server: any licence will do
        return None
    # compare_digest: the check's timing must not tell how much of a guess was right.
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        return "License not recognised"
    return None


def _avatar_failure(params: dict[str, str], avatar: Avatar | None) -> str | None:
    if avatar is not None:
        return None
    if params.get("avatarId"):
        return f"Avatar not found: no avatar has id {params['avatarId']!r}"
    if params.get("name"):
        return f"Avatar not found: no avatar is named {params['name']!r}"
    return "Avatar not found: give avatarId=<id> or name=<avatar name>"


def admit(query: str, license: str | None, avatars: Sequence[Avatar]) -> Admission:
    """Check the licence first, then choose the avatar (``avatarId`` wins over ``name``).

    ``license=None`` admits any non-empty licence (``navtalk-sync serve`` without --license).
    """
    params = parse_query(query)
    license_failure = _license_failure(params.get(LICENSE_KEY), license)
    avatar, ambiguous = find_avatar(avatars, params.get("avatarId") or None, params.get("name"))
    failure = license_failure or _avatar_failure(params, avatar)
    return Admission(
        query=redact_query(params),
        license_ok=license_failure is None,
        avatar=avatar,
        ambiguous=ambiguous,
        model=params.get("model"),
        failure=failure,
    )

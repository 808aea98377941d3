"""The avatars the local server knows, and choosing one from the connection's query.

The real service looks avatars up by ``avatarId`` or by ``name``
(protocol.md#avatar-selection). With ``name`` several avatars may match; the most recently
updated one wins and the session gets a warning.
"""

from __future__ import annotations

import hashlib
from typing import Any, Sequence

import attrs

__all__ = ["Avatar", "DEFAULT_AVATARS", "SYSTEM_AVATAR_NAMES", "avatar_id_for", "find_avatar"]

#: The system avatar names seen in official material (protocol.md#avatar-selection).
SYSTEM_AVATAR_NAMES: tuple[str, ...] = (
    "navtalk.Alex", "navtalk.Ethan", "navtalk.Leo", "navtalk.Lily", "navtalk.Emma",
    "navtalk.Sophia", "navtalk.Mia", "navtalk.Chloe", "navtalk.Zoe", "navtalk.Ava",
    "navtalk.Brain", "navtalk.Lauren", "navtalk.Emily",
)  # fmt: skip


def avatar_id_for(name: str) -> str:
    """A deterministic 32-hex id for a name (md5), so tests can predict the system ids."""
    return hashlib.md5(name.encode("utf-8")).hexdigest()


def _non_empty(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"Avatar.{attribute.name} must be a non-empty string, got {value!r}")


@attrs.frozen
class Avatar:
    """One avatar. Real ids are 32 hex characters; any non-empty string is accepted here.

    ``voice`` and ``prompt`` are the avatar's console defaults; a client's
    ``realtime.input_config`` overrides them for one session. ``provider_name`` is what the
    avatar lookup API reports: only ``"openai"`` avatars take tools and images
    (protocol.md#avatar-api).
    """

    id: str = attrs.field(validator=_non_empty)
    name: str = attrs.field(validator=_non_empty)
    updated_at: float = 0.0
    voice: str | None = None
    prompt: str | None = None
    provider_name: str = attrs.field(default="openai", validator=_non_empty)


#: The 13 system avatars, ids = md5 of the name, all equally old.
DEFAULT_AVATARS: tuple[Avatar, ...] = tuple(
    Avatar(id=avatar_id_for(name), name=name) for name in SYSTEM_AVATAR_NAMES
)


def find_avatar(
    avatars: Sequence[Avatar], avatar_id: str | None, name: str | None
) -> tuple[Avatar | None, bool]:
    """(chosen avatar or None, whether the name was ambiguous).

    ``avatar_id`` wins over ``name`` when both are given (protocol.md#avatar-selection). Among
    several avatars with one name the most recently updated is chosen; on a tie the first
    listed wins.
    """
    if avatar_id:
        return next((a for a in avatars if a.id == avatar_id), None), False
    if not name:
        return None, False
    matches = [a for a in avatars if a.name == name]
    if not matches:
        return None, False
    newest = max(matches, key=lambda a: a.updated_at)  # max keeps the first of equals
    return newest, len(matches) > 1

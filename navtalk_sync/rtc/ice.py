"""ICE settings aiortc does not offer: host candidates limited to chosen addresses, no STUN.

aioice gathers host candidates from every interface *except* 127.0.0.1, so a loopback-only
session (the local server, the tests) would use the machine's other addresses. aioice has no
per-connection switch for it: ``restrict_host_candidates`` replaces its address lookup for the
whole process. ``configuration`` builds an ``RTCConfiguration`` that never falls back to
aiortc's default public STUN server.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable, Mapping, Sequence

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

__all__ = ["restrict_host_candidates", "host_candidate_restriction", "configuration"]

_original_get_host_addresses = aioice.ice.get_host_addresses
_lock = threading.Lock()
_allowed: tuple[str, ...] | None = None


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    allowed = _allowed
    if allowed is None:
        return _original_get_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
    return [a for a in allowed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]


def restrict_host_candidates(addresses: Sequence[str] | None) -> None:
    """Gather host candidates only on ``addresses`` (e.g. ``["127.0.0.1"]``), process-wide.

    ``None`` restores aioice's own choice. Takes effect for candidates gathered afterwards.
    """
    global _allowed
    with _lock:
        _allowed = None if addresses is None else tuple(addresses)
        aioice.ice.get_host_addresses = _host_addresses


def host_candidate_restriction() -> tuple[str, ...] | None:
    """The addresses host candidates are limited to, or None."""
    return _allowed


def configuration(ice_servers: Iterable[Mapping[str, Any]] = ()) -> RTCConfiguration:
    """An ``RTCConfiguration`` with exactly these ICE servers (``{urls, username?,
    credential?}``); an empty list means none at all, not aiortc's public STUN default."""
    servers = [
        RTCIceServer(
            urls=list(s["urls"]) if not isinstance(s["urls"], str) else s["urls"],
            username=s.get("username"),
            credential=s.get("credential"),
        )
        for s in ice_servers
    ]
    return RTCConfiguration(iceServers=servers)

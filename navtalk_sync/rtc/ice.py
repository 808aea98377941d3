"""ICE settings aiortc does not offer: host candidates limited to chosen addresses, no STUN.

aioice gathers host candidates from every interface *except* 127.0.0.1, so a loopback-only
session (the local server, the tests) would use the machine's other addresses, and aioice has
no per-connection switch for it. This module replaces aioice's address lookup once, with one
that answers per event loop: ``restrict_host_candidates(addresses, loop=...)`` applies to the
connections gathered on that loop only (aioice gathers on the loop that runs the connection),
so a client for the local server and a client for the hosted service in one process each get
their own. Without ``loop`` it sets the process-wide default for every other loop.
``configuration`` builds an ``RTCConfiguration`` that never falls back to aiortc's default
public STUN server.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from typing import Any, Iterable, Mapping, Sequence

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

try:
    from aiortc.rtcconfiguration import RTCIceTransportPolicy
except ImportError:  # aiortc before 1.16, the last that runs on Python 3.10
    RTCIceTransportPolicy = None  # type: ignore[assignment,misc]

__all__ = [
    "restrict_host_candidates",
    "host_candidate_restriction",
    "configuration",
    "RELAY_ONLY_MISSING",
]

#: Why relay-only ICE cannot be had here, or "" when it can.
RELAY_ONLY_MISSING = (
    ""
    if RTCIceTransportPolicy is not None
    else 'ice_transport_policy="relay" needs aiortc 1.16 or newer, which needs Python 3.11'
)

_original_get_host_addresses = aioice.ice.get_host_addresses
_lock = threading.Lock()
_allowed: tuple[str, ...] | None = None
#: per-loop choices; a loop mapped to None uses aioice's own choice whatever the default
_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, tuple[str, ...] | None] = (
    weakref.WeakKeyDictionary()
)


def _restriction_here() -> tuple[str, ...] | None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    with _lock:
        if loop is not None and loop in _per_loop:
            return _per_loop[loop]
        return _allowed


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    allowed = _restriction_here()
    if allowed is None:
        return _original_get_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6)
    return [a for a in allowed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]


def restrict_host_candidates(
    addresses: Sequence[str] | None, loop: asyncio.AbstractEventLoop | None = None
) -> None:
    """Gather host candidates only on ``addresses`` (e.g. ``["127.0.0.1"]``).

    With ``loop``: for the connections gathered on that loop (``None`` there means aioice's
    own choice, whatever the process-wide default). Without: the process-wide default.
    Takes effect for candidates gathered afterwards.
    """
    global _allowed
    chosen = None if addresses is None else tuple(addresses)
    with _lock:
        if loop is None:
            _allowed = chosen
        else:
            _per_loop[loop] = chosen
        aioice.ice.get_host_addresses = _host_addresses


def host_candidate_restriction(
    loop: asyncio.AbstractEventLoop | None = None,
) -> tuple[str, ...] | None:
    """The addresses host candidates are limited to on ``loop`` (or by default), or None."""
    with _lock:
        if loop is not None and loop in _per_loop:
            return _per_loop[loop]
        return _allowed


def configuration(
    ice_servers: Iterable[Mapping[str, Any]] = (), transport_policy: str = "all"
) -> RTCConfiguration:
    """An ``RTCConfiguration`` with exactly these ICE servers (``{urls, username?,
    credential?}``); an empty list means none at all, not aiortc's public STUN default.
    ``transport_policy`` "relay" gathers TURN candidates only (a browser's
    ``iceTransportPolicy``; aiortc takes the enum, not the string).

    aioice uses one STUN and one TURN server: the first ``turn:`` URL (with ``transport`` udp
    or tcp) or ``turns:`` URL (tcp) in the order given, skipping URLs it cannot use."""
    servers = [
        RTCIceServer(
            urls=list(s["urls"]) if not isinstance(s["urls"], str) else s["urls"],
            username=s.get("username"),
            credential=s.get("credential"),
        )
        for s in ice_servers
    ]
    if transport_policy != "relay":
        return RTCConfiguration(iceServers=servers)
    if RTCIceTransportPolicy is None:
        raise ValueError(RELAY_ONLY_MISSING)
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY)

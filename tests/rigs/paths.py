"""The network matrix's paths: how a client reaches the local server, built from real parts.

A path is a ``Socket`` way (``ws``, ``wss``, ``wss`` through tinyproxy), a ``Media`` way (direct
host candidates, or relay-only through coturn over UDP, TCP or TLS) and a link (``clean``, or
``slow``: 50 ms each way with 20 ms jitter, and 2 % loss on UDP), put together by ``build()``.
On a slow link the client's first hop of each path crosses a userspace relay
(``tests/rigs/impair.py``): the server or the proxy for the WebSocket, coturn for the media.
Direct media cannot cross one (host candidates on one machine reach each other by their own
addresses), so there only the WebSocket is slowed. Used by tests/network/test_matrix.py and
bench/network_matrix.py.
"""

from __future__ import annotations

from typing import Any, Callable

import attrs

from tests.rigs import coturn, tinyproxy
from tests.rigs.impair import Link, Relay

SOCKETS = ("ws", "wss", "wss+proxy")
MEDIA = ("direct", "turn-udp", "turn-tcp", "turn-tls")
LINKS = ("clean", "slow")


def slow(udp: bool) -> Link:
    return Link(delay=0.05, jitter=0.02, loss=0.02 if udp else 0.0)


@attrs.define
class Path:
    server: Any
    url: str
    settings: dict[str, Any]
    relays: list[Relay]

    def close(self) -> None:
        for relay in self.relays:
            relay.close()


def build(
    make_server: Callable[..., Any],
    socket_way: str,
    media_way: str,
    link: str,
    proxy: tinyproxy.TinyProxy,
    turn: coturn.Coturn,
) -> Path:
    relays: list[Relay] = []
    settings: dict[str, Any] = {}
    ice: list[dict[str, Any]] = []
    if media_way != "direct":
        transport = media_way.removeprefix("turn-")
        entry = turn.ice_server(transport)
        if link == "slow":
            port = turn.tls_port if transport == "tls" else turn.port
            kind = Relay.udp if transport == "udp" else Relay.tcp
            relay = kind(("127.0.0.1", port), slow(transport == "udp"))
            relays.append(relay)
            scheme, rest = entry["urls"][0].split(":", 1)
            entry["urls"] = [f"{scheme}:127.0.0.1:{relay.port}?{rest.split('?', 1)[1]}"]
        ice.append(entry)
        settings["ice_transport_policy"] = "relay"
    server = make_server(ice_servers=ice, tls=socket_way != "ws")
    if server.ca_file is not None:
        settings["ca_file"] = server.ca_file
    url = server.url
    first_hop = (
        ("127.0.0.1", proxy.port) if socket_way == "wss+proxy" else ("127.0.0.1", server.port)
    )
    hop = first_hop[1]
    if link == "slow":
        relay = Relay.tcp(first_hop, slow(udp=False))
        relays.append(relay)
        hop = relay.port
    if socket_way == "wss+proxy":
        settings["proxy"] = f"http://127.0.0.1:{hop}"
    elif hop != server.port:
        url = url.replace(f":{server.port}/", f":{hop}/")
    return Path(server, url, settings, relays)

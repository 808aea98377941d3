"""Fixtures of the server's tests: ``connect(server, ...)`` opens a raw ``Peer``; ``session``
is one whose session is ready."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest
import websocket

from navtalk_sync.server import (
    LocalServer,
)
from tests.server.raw_client import UPDATED, Peer


@pytest.fixture
def connect():
    sockets: list[websocket.WebSocket] = []

    def open_peer(server: LocalServer, license: str | None = "", **params: str) -> Peer:
        query: dict[str, str] = {}
        if license is not None:
            query["license"] = license or server.license
        if not params:
            params = {"name": "navtalk.Leo"}
        query.update(params)
        url = server.url + "?" + urlencode(query, quote_via=quote)
        ws = websocket.create_connection(url, timeout=5)
        sockets.append(ws)
        return Peer(ws)

    yield open_peer
    for ws in sockets:
        ws.close(timeout=0.5)


@pytest.fixture
def session(server, connect) -> Peer:
    """A peer whose session is ready (session.updated received)."""
    peer = connect(server)
    peer.until(UPDATED)
    return peer

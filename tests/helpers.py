"""Small helpers shared by the tests that talk to the local server."""

from __future__ import annotations

import time
from typing import Callable

import navtalk_sync as nt
from navtalk_sync.server import LocalServer


def client_for(server: LocalServer, **kw) -> nt.NavTalkClient:
    """A client for the local server (avatar navtalk.Leo unless told otherwise)."""
    kw.setdefault("avatar_name", "navtalk.Leo")
    return nt.NavTalkClient(server.license, url=server.url, **kw)


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)

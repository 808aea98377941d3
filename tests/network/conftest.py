"""Fixtures of the network tests: a TLS local server, real proxies (tinyproxy)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.rigs import coturn, tinyproxy


@pytest.fixture
def tls_server(make_server):
    """A LocalServer serving wss:// and https:// with a throwaway CA (``ca_file``)."""
    return make_server(tls=True)


@pytest.fixture
def make_proxy():
    """``make_proxy(credentials=None, deny=False)``: a running tinyproxy, stopped after the
    test. Fails (never skips) when tinyproxy is missing: CI installs it."""
    assert tinyproxy.MISSING is None, tinyproxy.MISSING
    proxies: list[tinyproxy.TinyProxy] = []
    folder = Path(tempfile.mkdtemp(prefix="navtalk-proxy-"))

    def make(credentials: tuple[str, str] | None = None, deny: bool = False) -> tinyproxy.TinyProxy:
        proxy = tinyproxy.start(folder / str(len(proxies)), credentials, deny)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.stop()
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def turn_server():
    """A running coturn on 127.0.0.1 (UDP/TCP and TLS ports), for the module's tests. Fails
    (never skips) when coturn is missing: CI installs it."""
    assert coturn.MISSING is None, coturn.MISSING
    folder = Path(tempfile.mkdtemp(prefix="navtalk-turn-"))
    server = coturn.start(folder)
    yield server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)

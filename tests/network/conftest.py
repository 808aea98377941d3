"""Fixtures of the network tests: a TLS local server, real proxies (tinyproxy)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.rigs import tinyproxy


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

"""The network matrix: every way to the server a user may have, each cell a real session
({ws, wss, wss through a proxy} x {direct, TURN over UDP, TCP, TLS} x {clean, slow link}; see
tests/rigs/paths.py). Each cell connects, gets the avatar's picture, asks a question and
checks that the media took the way it was meant to. Times: bench/network_matrix.py."""

from __future__ import annotations

import itertools

import pytest

import navtalk_sync as nt
from navtalk_sync.rtc.ice import RELAY_ONLY_MISSING
from tests.rigs import paths

CELLS = list(itertools.product(paths.SOCKETS, paths.MEDIA, paths.LINKS))


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    from tests.rigs import tinyproxy

    assert tinyproxy.MISSING is None, tinyproxy.MISSING
    running = tinyproxy.start(tmp_path_factory.mktemp("proxy"))
    yield running
    running.stop()


@pytest.mark.timeout(90)
@pytest.mark.parametrize(("socket_way", "media_way", "link"), CELLS, ids="-".join)
def test_a_session_on_every_path(
    make_server, proxy, turn_server, monkeypatch, socket_way, media_way, link
):
    if media_way != "direct" and RELAY_ONLY_MISSING:
        pytest.skip(RELAY_ONLY_MISSING)
    monkeypatch.setenv("SSL_CERT_FILE", turn_server.ca_file)  # turns: against the default store
    before = len(proxy.connects())
    path = paths.build(make_server, socket_way, media_way, link, proxy, turn_server)
    try:
        with nt.NavTalkClient(path.server.license, avatar_name="navtalk.Leo", url=path.url,
                              **path.settings) as client:  # fmt: skip
            client.connect(timeout=30)
            frame = client.wait_for_video(timeout=30)
            answer = client.ask("What can you do?", timeout=30)
            network = client.stats()["network"]
    finally:
        path.close()
    assert frame.width == 512 and answer
    pair = network["candidate_pair"]
    if media_way == "direct":
        assert pair["local"] == "host"
    else:
        assert pair["local"] == "relay" and pair["relay_protocol"] == media_way.split("-")[1]
    assert (len(proxy.connects()) > before) == (socket_way == "wss+proxy")
    if link == "slow":
        assert network["websocket_rtt_ms"] is None or network["websocket_rtt_ms"] >= 60

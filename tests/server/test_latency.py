"""The server's timing: fast by default; "realistic" keeps a hosted avatar's setup, thinking
and streaming times (lower bounds only: the figures themselves are in server/latency.py)."""

from __future__ import annotations

import time

import pytest

from navtalk_sync.server import Latency
from tests.server.raw_client import AUDIO_DONE, DELTA, RESPONSE_CREATE, UPDATED, text_item

pytestmark = pytest.mark.timeout(30)


def _reply_times(peer) -> tuple[float, float, float]:
    """Ask; (seconds to the first delta, from it to audio.done, from it to the last delta)."""
    asked = time.monotonic()
    peer.send(text_item("What can you do?"))
    peer.send(RESPONSE_CREATE)
    first = last = None
    while True:
        frame = peer.recv()
        now = time.monotonic()
        if frame["type"] == DELTA:
            first = first or now
            last = now
        if frame["type"] == AUDIO_DONE:
            assert first is not None and last is not None
            return first - asked, now - first, last - first


def test_the_realistic_server_takes_a_hosted_avatars_time(make_server, connect):
    server = make_server(latency="realistic")
    opened = time.monotonic()
    peer = connect(server)
    peer.until(UPDATED)
    assert time.monotonic() - opened >= Latency.REALISTIC.setup
    thinking, streaming, spread = _reply_times(peer)
    assert thinking >= Latency.REALISTIC.first_text
    assert spread > 0.3 and streaming >= spread  # pieces as made; audio.done once all are out


def test_a_latency_is_checked_when_it_is_made(make_server):
    with pytest.raises(ValueError, match="setup must be seconds from 0 to 60"):
        Latency(setup=-1)
    with pytest.raises(ValueError, match="latency must be 'fast', 'realistic' or a Latency"):
        make_server(latency="slow")
    assert make_server(latency=Latency(first_text=0.2)) is not None

"""Stamped deltas (the event-latency benchmark's source) over a real socket, and their checks."""

from __future__ import annotations

import asyncio
import time

import pytest

import navtalk_sync as nt
from navtalk_sync.events import ResponseTranscriptDelta
from navtalk_sync.server import LocalServer
from navtalk_sync.server.stamps import STAMP_RESPONSE_ID, stamp_latency, stream_stamped_deltas
from tests.helpers import client_for


def _receive(
    subscription: nt.Subscription, count: int
) -> list[tuple[ResponseTranscriptDelta, int]]:
    """``count`` deltas, each with the client's clock as it was handed over."""
    received = []
    for _ in range(count):
        event = subscription.get(timeout=10)
        assert isinstance(event, ResponseTranscriptDelta)
        received.append((event, time.monotonic_ns()))
    return received


# 1 000 000 a second: back to back, so many frames share a TCP segment (the reader's read-ahead)
@pytest.mark.parametrize("rate", [500, 1_000_000])
def test_every_connection_gets_exactly_count_increasing_stamps_from_the_past(rate):
    with LocalServer() as server:
        first, second = client_for(server, media=False), client_for(server, media=False)
        with first, second:
            first.connect(timeout=15)
            second.connect(timeout=15)
            with (
                first.events(ResponseTranscriptDelta) as one,
                second.events(ResponseTranscriptDelta) as other,
            ):
                assert server.send_stamped_deltas(rate=rate, count=40) == 80
                for subscription in (one, other):
                    received = _receive(subscription, 40)
                    with pytest.raises(nt.NavTalkTimeout):
                        subscription.get(timeout=0.3)  # exactly count: no 41st
                    assert {event.response_id for event, _ in received} == {STAMP_RESPONSE_ID}
                    stamps = [int(event.text) for event, _ in received]
                    assert stamps == sorted(set(stamps)), "stamps strictly increase"
                    assert all(
                        stamp_latency(event.text, now_ns=now) >= 0 for event, now in received
                    ), "no stamp is later than its arrival"


def test_no_deltas_is_nothing_sent():
    with LocalServer() as server, client_for(server, media=False) as client:
        client.connect(timeout=15)
        with client.events(ResponseTranscriptDelta) as deltas:
            assert server.send_stamped_deltas(rate=100, count=0) == 0
            with pytest.raises(nt.NavTalkTimeout):
                deltas.get(timeout=0.3)


@pytest.mark.parametrize(("rate", "count"), [(0, 5), (100, -1)])
def test_the_server_refuses_a_rate_that_is_not_positive_or_a_negative_count(rate, count):
    with LocalServer() as server, client_for(server, media=False) as client:
        client.connect(timeout=15)
        with pytest.raises(ValueError, match="rate must be positive"):
            server.send_stamped_deltas(rate=rate, count=count)


@pytest.mark.parametrize(("rate", "count"), [(0, 5), (-10, 5), (float("nan"), 5), (100, -1)])
def test_the_stream_refuses_a_rate_that_is_not_positive_or_a_negative_count(rate, count):
    async def nowhere(text: str) -> None:
        raise AssertionError("nothing may be sent")

    with pytest.raises(ValueError, match="rate must be positive"):
        asyncio.run(stream_stamped_deltas([nowhere], rate, count))

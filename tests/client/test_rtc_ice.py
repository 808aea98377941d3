"""Two real aiortc peers on loopback only: the ICE settings the client and server will use."""

from __future__ import annotations

import asyncio

import pytest
from aiortc import RTCPeerConnection, VideoStreamTrack

from navtalk_sync.rtc import LoopThread
from navtalk_sync.rtc.ice import configuration, host_candidate_restriction, restrict_host_candidates

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def loopback_only():
    before = host_candidate_restriction()
    restrict_host_candidates(["127.0.0.1"])
    yield
    restrict_host_candidates(before)


def candidate_addresses(sdp: str) -> set[str]:
    return {line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")}


async def connect_and_get_a_frame() -> tuple[set[str], set[str], tuple[int, int]]:
    offerer = RTCPeerConnection(configuration())
    answerer = RTCPeerConnection(configuration())
    frames: asyncio.Queue = asyncio.Queue()
    pulls: list[asyncio.Task] = []

    @answerer.on("track")
    def on_track(track):
        async def pull():
            frames.put_nowait(await track.recv())

        pulls.append(asyncio.ensure_future(pull()))

    try:
        offerer.addTrack(VideoStreamTrack())
        await offerer.setLocalDescription(await offerer.createOffer())
        await answerer.setRemoteDescription(offerer.localDescription)
        await answerer.setLocalDescription(await answerer.createAnswer())
        await offerer.setRemoteDescription(answerer.localDescription)
        frame = await asyncio.wait_for(frames.get(), 15)
        return (
            candidate_addresses(offerer.localDescription.sdp),
            candidate_addresses(answerer.localDescription.sdp),
            (frame.width, frame.height),
        )
    finally:
        for task in pulls:
            task.cancel()
        await offerer.close()
        await answerer.close()


def test_loopback_only_peers_connect_and_a_frame_arrives(loopback_only):
    portal = LoopThread().start()
    try:
        offer_hosts, answer_hosts, size = portal.run(connect_and_get_a_frame(), timeout=25)
    finally:
        portal.stop()
    assert offer_hosts == {"127.0.0.1"} and answer_hosts == {"127.0.0.1"}
    assert size == (640, 480)  # aiortc's test pattern track


def test_configuration_has_no_default_stun():
    assert configuration().iceServers == []
    servers = configuration([{"urls": ["turn:t.example:3478"], "username": "u", "credential": "c"}])
    assert servers.iceServers[0].urls == ["turn:t.example:3478"]
    assert servers.iceServers[0].username == "u"

"""A stand-in for the server's WebRTC side, for tests of the client's signaling.

A real aiortc peer on its own loop thread offers a video track (a solid colour picture) and an
audio track; the test carries its offer to the client through ``LocalServer.send_event`` in any
shape the protocol allows, and the client's answer back. ``pause()`` makes the video go silent
without ending it, as a stalled server does.
"""

from __future__ import annotations

import asyncio
import fractions
import re
import time

import av
import numpy as np
from aiortc import AudioStreamTrack, MediaStreamTrack, RTCPeerConnection, RTCSessionDescription

from navtalk_sync.rtc.ice import configuration, restrict_host_candidates
from navtalk_sync.rtc.loop import LoopThread

CANDIDATE_LINE = re.compile(r"^a=candidate:(.*)$", re.MULTILINE)


class ColourTrack(MediaStreamTrack):
    """25 fps frames of one colour; ``paused`` stops them without ending the track."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.size = (width, height)
        self.running = asyncio.Event()
        self.running.set()
        self._count = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        await self.running.wait()
        if self._start is None:
            self._start = time.monotonic()
        self._count += 1
        wait = self._start + self._count / 25 - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        image = np.zeros((self.size[1], self.size[0], 3), np.uint8)
        image[:] = (200, 40, 40)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = self._count * 3600
        frame.time_base = fractions.Fraction(1, 90000)
        return frame


class Offerer:
    """An aiortc peer that offers video then audio, sendonly, candidates on 127.0.0.1."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        self.loop = LoopThread("navtalk-test-offerer").start()
        restrict_host_candidates(["127.0.0.1"], loop=self.loop.loop)
        self.video = ColourTrack(width, height)
        self.pc: RTCPeerConnection | None = None

    def offer(self) -> str:
        async def make() -> str:
            self.pc = RTCPeerConnection(configuration())
            self.pc.addTransceiver(self.video, direction="sendonly")
            self.pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
            await self.pc.setLocalDescription(await self.pc.createOffer())
            return self.pc.localDescription.sdp

        return self.loop.run(make(), 10)

    def accept(self, answer_sdp: str) -> None:
        async def accept() -> None:
            assert self.pc is not None
            await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))

        self.loop.run(accept(), 10)

    def ice_state(self) -> str:
        return self.pc.iceConnectionState if self.pc else "new"

    def pause(self) -> None:
        async def pause() -> None:
            self.video.running.clear()

        self.loop.run(pause(), 5)

    def resume(self) -> None:
        async def resume() -> None:
            self.video.running.set()

        self.loop.run(resume(), 5)

    def close(self) -> None:
        async def close() -> None:
            if self.pc is not None:
                await self.pc.close()

        if not self.loop.running:
            return
        try:
            self.loop.run(close(), 5)
        finally:
            self.loop.stop()


def split_candidates(sdp: str) -> tuple[str, list[str]]:
    """The SDP without its candidate lines, and the candidates (first m-line's, BUNDLE)."""
    candidates = list(dict.fromkeys(CANDIDATE_LINE.findall(sdp)))
    stripped = "\r\n".join(
        line
        for line in sdp.split("\r\n")
        if not line.startswith("a=candidate:") and line != "a=end-of-candidates"
    )
    return stripped, [f"candidate:{c}" for c in candidates]


def dead_candidates(sdp: str) -> str:
    """The SDP with every candidate moved to a port where nothing answers."""
    return re.sub(
        r"^(a=candidate:\S+ \d+ \S+ \d+ )(\S+) (\d+)",
        r"\g<1>127.0.0.1 9",
        sdp,
        flags=re.MULTILINE,
    )

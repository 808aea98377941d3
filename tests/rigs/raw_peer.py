"""A client of the local server written without the library, to test the server on its own:
the WebSocket side (``Signaling``: JSON frames in and out) and a real aiortc peer that answers
the server's offer and keeps what every frame showed (``Answerer``).
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import numpy as np
import pytest
import websocket
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from navtalk_sync.rtc import LoopThread
from navtalk_sync.rtc.ice import configuration
from navtalk_sync.server.face import MOUTH_BOX
from tests.helpers import rms

OFFER = "webrtc.signaling.offer"
AUDIO_DONE = "realtime.response.audio.done"
ERROR = "realtime.response.error"
REFUSED = "invalid_client_message"

#: A pixel counts as "dark" (the open mouth's inside) when no channel exceeds this.
DARK = 80
#: Received audio RMS (int16 units): digital silence vs the tone voice.
SILENT, AUDIBLE = 50, 1000


def mouth_darkness(rgb: np.ndarray) -> float:
    """The share of dark pixels in the mouth box of one RGB picture."""
    height, width, _ = rgb.shape
    x0, y0, x1, y1 = MOUTH_BOX
    box = rgb[round(y0 * height) : round(y1 * height), round(x0 * width) : round(x1 * width)]
    return float((box.max(axis=2) < DARK).mean())


class Signaling:
    """The WebSocket side: JSON frames in and out."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws

    def send(self, message: dict[str, Any]) -> None:
        self.ws.send(json.dumps(message))

    def recv(self) -> dict[str, Any]:
        opcode, frame = self.ws.recv_data_frame(True)
        assert opcode == websocket.ABNF.OPCODE_TEXT, f"expected a text frame, got {opcode}"
        return json.loads(frame.data.decode("utf-8"))

    def until(self, event_type: str) -> list[dict[str, Any]]:
        seen = [self.recv()]
        while seen[-1]["type"] != event_type:
            seen.append(self.recv())
        return seen

    def offer_sdp(self) -> str:
        """Reads up to the offer; its SDP."""
        return self.until(OFFER)[-1]["data"]["sdp"]["sdp"]

    def ask(self, text: str) -> list[dict[str, Any]]:
        self.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": text}],
                },
            }
        )
        self.send({"type": "response.create"})
        return self.until(AUDIO_DONE)

    def answer(self, sdp: str, form: str = "object") -> None:
        if form == "object":
            self.send(
                {"type": "webrtc.signaling.answer", "data": {"sdp": {"type": "answer", "sdp": sdp}}}
            )
        elif form == "string":
            self.send({"type": "webrtc.signaling.answer", "data": {"sdp": sdp}})
        else:  # the mobile SDKs' top-level variant
            self.send({"type": "webrtc.signaling.answer", "sdp": sdp})

    def refusal(self) -> str:
        """The next frame must refuse a message; its reason."""
        frame = self.recv()
        assert frame["type"] == ERROR and frame["data"]["code"] == REFUSED, frame
        return frame["message"]

    def assert_silent(self, seconds: float) -> None:
        self.ws.settimeout(seconds)
        try:
            with pytest.raises(websocket.WebSocketTimeoutException):
                self.ws.recv_data_frame(True)
        finally:
            self.ws.settimeout(10)


class Answerer:
    """A real aiortc peer answering the server's offer; it keeps what every frame showed."""

    def __init__(self, portal: LoopThread) -> None:
        self._portal = portal
        self._lock = threading.Lock()
        self._tasks: list[asyncio.Task] = []
        self.video: list[tuple[int, int, float]] = []  # (width, height, mouth darkness)
        self.audio: list[float] = []  # RMS of each received audio frame
        self.pc: RTCPeerConnection = portal.run(self._create(), 10)

    async def _create(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(configuration())

        @pc.on("track")
        def on_track(track) -> None:
            self._tasks.append(asyncio.ensure_future(self._pull(track)))

        return pc

    async def _pull(self, track) -> None:
        try:
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    entry = (
                        frame.width,
                        frame.height,
                        mouth_darkness(frame.to_ndarray(format="rgb24")),
                    )
                    with self._lock:
                        self.video.append(entry)
                else:
                    level = rms(frame.to_ndarray())
                    with self._lock:
                        self.audio.append(level)
        except MediaStreamError:  # the connection closed
            pass

    def answer(self, offer: str) -> str:
        async def run() -> str:
            await self.pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            return self.pc.localDescription.sdp

        return self._portal.run(run(), 10)

    @property
    def ice_state(self) -> str:
        async def read() -> str:
            return self.pc.iceConnectionState

        return self._portal.run(read(), 5)

    def counts(self) -> tuple[int, int]:
        with self._lock:
            return len(self.video), len(self.audio)

    def video_since(self, index: int) -> list[tuple[int, int, float]]:
        with self._lock:
            return self.video[index:]

    def audio_since(self, index: int) -> list[float]:
        with self._lock:
            return self.audio[index:]

    def close(self) -> None:
        async def run() -> None:
            await self.pc.close()
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        self._portal.run(run(), 10)

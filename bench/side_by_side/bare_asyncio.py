"""The baseline of rows 4 and 5: what a user would write by hand instead of ``NavTalkClient``.

``asyncio`` + ``websockets`` for the socket and an aiortc answerer for the media, as the NavTalk
protocol asks (protocol.md#session-lifecycle, protocol.md#webrtc-signaling): connect with
``?license=...&name=...``, answer the server's offer (aiortc embeds every local candidate in
the answer, so nothing is trickled; candidates
the server trickles are added), drain both tracks for as long as they live (aiortc's receive
queues are unbounded), and send the user's voice as ``input_audio_buffer.append`` frames of
base64 PCM16 24 kHz mono. No retries, no watchdogs, no typed events: the least a working
client does, so the library's costs show against it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import time
from typing import Any, Callable

import numpy as np
import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from navtalk_sync.rtc.ice import configuration

__all__ = ["BareClient"]


class BareClient:
    """One hand-written session: ``await open()``, then the futures and ``send_audio()``.

    ``session_updated`` and ``first_frame`` resolve to the ``time.perf_counter()`` at which
    ``realtime.session.updated`` was parsed and the first video frame decoded (converted to
    RGB too with ``convert``). With ``convert`` (an attribute too: it may change mid-session)
    every video frame becomes an RGB numpy array, handed to ``on_image`` (on the loop, as it is
    decoded) when one is given; ``on_message`` sees every parsed message from the socket.
    """

    def __init__(
        self,
        url: str,
        *,
        license: str = "sk_bench",
        avatar_name: str = "navtalk.Leo",
        convert: bool = False,
        on_image: Callable[[np.ndarray], None] | None = None,
        on_message: Callable[[dict[str, Any]], None] | None = None,
        ice_servers: list[dict[str, Any]] | None = None,
        relay_only: bool = False,
    ) -> None:
        self._address = f"{url}?license={license}&name={avatar_name}"
        self.convert = convert or on_image is not None
        self._on_image = on_image
        self._on_message = on_message
        loop = asyncio.get_running_loop()
        self.session_updated: asyncio.Future[float] = loop.create_future()
        self.first_frame: asyncio.Future[float] = loop.create_future()
        self.video_frames = 0
        self.audio_frames = 0
        self._pc = RTCPeerConnection(
            configuration(ice_servers or (), "relay" if relay_only else "all")
        )
        self._pc.on("track", self._track)
        self._ws: Any = None
        self._tasks: list[asyncio.Task[None]] = []

    async def open(self) -> None:
        """Connect the socket and start reading it (the offer is answered as it comes)."""
        self._ws = await websockets.connect(self._address, max_size=None)
        self._tasks.append(asyncio.create_task(self._read()))

    async def send_audio(self, pcm16: bytes) -> None:
        """One piece of the user's voice (24 kHz mono PCM16LE), handed to the socket."""
        audio = base64.b64encode(pcm16).decode("ascii")
        message = {"type": "realtime.input_audio_buffer.append", "data": {"audio": audio}}
        await self._ws.send(json.dumps(message))

    async def send_text(self, text: str) -> None:
        """A typed question and the request for its answer."""
        content = [{"type": "input_text", "text": text}]
        item = {"type": "message", "role": "user", "content": content}
        await self._ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
        await self._ws.send(json.dumps({"type": "response.create"}))

    async def close(self) -> None:
        await self._pc.close()
        if self._ws is not None:
            await self._ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self._ws:
                message = json.loads(raw)
                kind = message.get("type")
                if self._on_message is not None:
                    self._on_message(message)
                if kind == "realtime.session.updated" and not self.session_updated.done():
                    self.session_updated.set_result(time.perf_counter())
                elif kind == "webrtc.signaling.offer":
                    await self._answer(message["data"]["sdp"]["sdp"])
                elif kind == "webrtc.signaling.iceCandidate":
                    await self._add_candidate(message["data"]["candidate"])

    async def _answer(self, offer: str) -> None:
        await self._pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        for transceiver in self._pc.getTransceivers():
            # the client sends no media (protocol.md#webrtc-signaling)
            transceiver.direction = "recvonly"
        await self._pc.setLocalDescription(await self._pc.createAnswer())
        sdp = {"type": "answer", "sdp": self._pc.localDescription.sdp}
        await self._ws.send(json.dumps({"type": "webrtc.signaling.answer", "data": {"sdp": sdp}}))

    async def _add_candidate(self, body: dict[str, Any]) -> None:
        text = (body.get("candidate") or "").removeprefix("candidate:")
        if not text:
            return  # the end-of-candidates marker
        candidate = candidate_from_sdp(text)
        candidate.sdpMid = body.get("sdpMid")
        candidate.sdpMLineIndex = body.get("sdpMLineIndex") or 0
        await self._pc.addIceCandidate(candidate)

    def _track(self, track: MediaStreamTrack) -> None:
        drain = self._drain_video if track.kind == "video" else self._drain_audio
        self._tasks.append(asyncio.ensure_future(drain(track)))

    async def _drain_video(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                self.video_frames += 1
                if self.convert:
                    image = frame.to_ndarray(format="rgb24")
                    if self._on_image is not None:
                        self._on_image(image)
                if not self.first_frame.done():
                    self.first_frame.set_result(time.perf_counter())

    async def _drain_audio(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                self.audio_frames += 1

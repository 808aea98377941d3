"""The client's WebRTC peer: it answers the server's offer and drains what the server sends.

The server offers (video m-line, then audio) and the client answers with receive-only audio
and video (protocol.md#webrtc-signaling). aiortc gathers every local candidate while it sets
the local description and embeds them in the answer, so nothing is trickled from here;
candidates the server trickles are added when they come.

Everything in this module runs on the ``navtalk-rtc`` loop. The tracks are drained for as long
as they live, whatever the consumers do: aiortc's receive queues are unbounded, so a track
nobody reads would pile up frames (and latency) without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
from typing import Any, Callable, Iterable, Mapping

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

from ..logs import get_logger
from .ice import configuration

__all__ = ["Answerer", "parse_candidate"]

log = get_logger(__name__)

#: ICE states in which media can flow (aiortc reports ``completed`` once checks are done).
CONNECTED_STATES = ("connected", "completed")


def parse_candidate(candidate: str, sdp_mid: str | None, sdp_mline_index: int | None) -> Any:
    """An ``RTCIceCandidate`` from an SDP candidate line (with or without ``candidate:``)."""
    text = candidate.strip()
    if text.startswith("a="):
        text = text[2:]
    if text.startswith("candidate:"):
        text = text[len("candidate:") :]
    parsed = candidate_from_sdp(text)
    parsed.sdpMid = sdp_mid
    parsed.sdpMLineIndex = sdp_mline_index
    return parsed


#: RTP clock rates: video (every WebRTC video codec) and Opus audio.
_RTP_CLOCK = {"video": 90000, "audio": 48000}


class _UndecodedQueue(queue.Queue):  # type: ignore[type-arg]
    """A receiver's decoder queue that lets through only the signal to stop: the encoded
    frames put in it are dropped, so its decoder thread decodes nothing."""

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:
            super().put(item, block, timeout)


def skip_decoding(receiver: Any) -> bool:
    """Make ``receiver`` (before it starts) drop its encoded frames instead of decoding them.

    aiortc always decodes what a receiver gets and offers no switch; its receiver hands each
    encoded frame to its decoder thread through a queue, which is replaced here. The SDP is
    left alone: every official NavTalk client asks for the picture, so whether the service
    takes an answer without it is not known. Returns False (and the picture is decoded as
    before) when this aiortc keeps no such queue.
    """
    name = "_RTCRtpReceiver__decoder_queue"
    if not isinstance(getattr(receiver, name, None), queue.Queue):
        log.warning("this aiortc version decodes video regardless: video=False saves nothing")
        return False
    setattr(receiver, name, _UndecodedQueue())
    return True


def _relay_protocol(connection: Any) -> str:
    """How the client reaches its TURN server: "udp", "tcp" or "tls"."""
    if connection.turn_transport != "tcp":
        return "udp"
    return "tls" if connection.turn_ssl else "tcp"


def _media_stream(receiver: Any) -> Any:
    """The receiver's statistics of the stream that carries its track: aiortc's
    ``getStats()`` reports one SSRC per receiver (the last seen, the retransmission stream once
    there has been one), so they are read from the receiver's per-SSRC table (private, as
    the candidate pair is), leaving out retransmission SSRCs."""
    streams = getattr(receiver, "_RTCRtpReceiver__remote_streams", {})
    retransmissions = getattr(receiver, "_RTCRtpReceiver__rtx_ssrc", {})
    main = [s for ssrc, s in streams.items() if ssrc not in retransmissions]
    return max(main, key=lambda s: s.packets_received, default=None)


class Answerer:
    """One ``RTCPeerConnection`` that answers one offer and hands decoded frames on.

    ``on_video`` and ``on_audio`` receive each decoded frame on the loop thread and must return
    at once (they hand the frame to a queue). ``on_ice_state`` and ``on_connection_state``
    receive aiortc's state names.
    """

    def __init__(
        self,
        ice_servers: Iterable[Mapping[str, Any]],
        *,
        on_video: Callable[[av.VideoFrame], None],
        on_audio: Callable[[av.AudioFrame], None],
        on_ice_state: Callable[[str], None],
        on_connection_state: Callable[[str], None],
        transport_policy: str = "all",
        decode_video: bool = True,
    ) -> None:
        self._pc = RTCPeerConnection(configuration(ice_servers, transport_policy))
        self._decode_video = decode_video
        self._relay_only = transport_policy == "relay"
        self._on_video = on_video
        self._on_audio = on_audio
        self._on_ice_state = on_ice_state
        self._on_connection_state = on_connection_state
        self._drains: set[asyncio.Task[None]] = set()
        self._pc.on("track", self._track)
        self._pc.on("iceconnectionstatechange", self._ice_state_changed)
        self._pc.on("connectionstatechange", self._connection_state_changed)
        self.answered = False

    @property
    def ice_state(self) -> str:
        return self._pc.iceConnectionState

    async def network(self) -> dict[str, Any]:
        """What explains a bad call: the ICE candidate pair in use, and per received track the
        packets received and lost and the interarrival jitter (aiortc's ``getStats()``)."""
        figures: dict[str, Any] = {"candidate_pair": self._selected_pair()}
        await asyncio.sleep(0)  # read on the loop, between packets
        for receiver in self._pc.getReceivers():
            stream = _media_stream(receiver)
            if stream is None:
                continue
            received, lost = stream.packets_received, max(0, stream.packets_lost)
            figures[receiver.track.kind] = {
                "packets_received": received,
                "packets_lost": lost,
                "loss": round(lost / (received + lost), 4) if received + lost else 0.0,
                "jitter_ms": round(
                    stream.jitter / _RTP_CLOCK.get(receiver.track.kind, 90000) * 1000, 1
                ),
            }
        return figures

    def _ice_connection(self) -> Any:
        """aioice's connection under the first transceiver (aiortc exposes no candidate-pair
        stats: ``_connection`` and its ``_nominated`` are private, stable since aioice 0.7)."""
        for transceiver in self._pc.getTransceivers():
            return getattr(transceiver.receiver.transport.transport, "_connection", None)
        return None

    def _selected_pair(self) -> dict[str, str] | None:
        """The nominated pair's candidate types and protocol, as WebRTC stats name them."""
        connection = self._ice_connection()
        pair = connection._nominated.get(1) if connection is not None else None
        if pair is None:
            return None
        local, remote = pair.local_candidate, pair.remote_candidate
        figures = {"local": local.type, "remote": remote.type, "protocol": local.transport}
        if local.type == "relay":
            figures["relay_protocol"] = _relay_protocol(connection)
            host, port = connection.turn_server
            figures["relay_server"] = f"{host}:{port}"
        return figures

    def why_no_relay(self) -> str | None:
        """With relay-only ICE, why there is nothing to connect through (None otherwise)."""
        connection = self._ice_connection()
        if connection is None or not self._relay_only:
            return None
        if connection.turn_server is None:
            return "relay-only ICE needs a TURN server, and the service named none usable"
        if any(c.type == "relay" for c in connection.local_candidates):
            return None
        host, port = connection.turn_server
        return (
            f"the TURN server {host}:{port} ({_relay_protocol(connection)}) gave no relay "
            "address: wrong username or credential, or it cannot be reached"
        )

    async def answer(self, offer_sdp: str) -> str:
        """Set the offer, answer receive-only; returns the answer SDP (candidates embedded)."""
        if self.answered:
            raise ValueError("the offer was already answered; the client does not renegotiate")
        await self._pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        for transceiver in self._pc.getTransceivers():
            # The client sends no media (protocol.md#webrtc-signaling): answer recvonly,
            # whatever was offered.
            transceiver.direction = "recvonly"
            if transceiver.kind == "video" and not self._decode_video:
                skip_decoding(transceiver.receiver)
        await self._pc.setLocalDescription(await self._pc.createAnswer())
        self.answered = True
        return self._pc.localDescription.sdp

    async def add_candidate(
        self, candidate: str, sdp_mid: str | None, sdp_mline_index: int | None
    ) -> None:
        """Add one server candidate; an empty string marks the end of the server's candidates."""
        if not candidate.strip():
            return  # aiortc has no use for the end-of-candidates marker
        if sdp_mid is None and sdp_mline_index is None:
            sdp_mline_index = 0  # BUNDLE: every m-line shares the first one's transport
        await self._pc.addIceCandidate(parse_candidate(candidate, sdp_mid, sdp_mline_index))

    async def close(self, timeout: float) -> None:
        """Close the connection (bounded) and end the drain tasks."""
        try:
            await asyncio.wait_for(self._pc.close(), timeout)
        except asyncio.TimeoutError:
            log.warning("the peer connection did not close within %.1f s", timeout)
        for task in list(self._drains):
            task.cancel()
        await asyncio.gather(*self._drains, return_exceptions=True)

    # ------------------------------------------------------------------ aiortc callbacks

    def _ice_state_changed(self) -> None:
        state = self._pc.iceConnectionState
        log.debug("ICE connection state: %s", state)
        self._on_ice_state(state)

    def _connection_state_changed(self) -> None:
        # ICE can complete and DTLS still fail: only the connection state tells
        state = self._pc.connectionState
        log.debug("peer connection state: %s", state)
        self._on_connection_state(state)

    def _track(self, track: MediaStreamTrack) -> None:
        log.debug("remote %s track %s", track.kind, track.id)
        sink = self._on_video if track.kind == "video" else self._on_audio
        task = asyncio.get_running_loop().create_task(
            self._drain(track, sink), name=f"navtalk-rtc-drain-{track.kind}"
        )
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    @staticmethod
    async def _drain(track: MediaStreamTrack, sink: Callable[[Any], None]) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                try:
                    sink(frame)
                except Exception:  # one bad frame must not stop the stream
                    log.exception("handling a received %s frame failed", track.kind)

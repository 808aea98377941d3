"""The server's side of one WebRTC session: offer, the client's answer and candidates, close.

The server is the offerer (protocol.md#webrtc-signaling): a ``sendonly`` video transceiver
first (mid 0), then a ``sendonly`` audio one (mid 1), BUNDLE and rtcp-mux. aiortc gathers
before it finishes ``setLocalDescription``, so the offer already carries the server's
candidates (non-trickle).
The answer may carry the client's candidates (aiortc clients) or none, followed by trickled
``webrtc.signaling.iceCandidate`` messages (browsers); both work. Candidates that arrive before
the answer are kept (up to ``MAX_EARLY_CANDIDATES``) and added once the answer is in.

No ICE server is used unless the server was configured with one: never aiortc's default public
STUN server. On a loopback server, host candidates are limited to the loopback address
(process-wide, see ``navtalk_sync.rtc.ice``).

A signaling message the peer cannot use raises ``InvalidMessage``, which the session answers
like any other refused message.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any, Callable, Mapping, Sequence

from aiortc import RTCBundlePolicy, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcicetransport import RTCIceCandidate
from aiortc.sdp import candidate_from_sdp

from ..logs import get_logger
from ..rtc.ice import configuration, restrict_host_candidates
from .avatar_tracks import AvatarTracks
from .validate import IceCandidate, InvalidMessage

__all__ = ["ServerPeer", "CLOSE_TIMEOUT", "MAX_EARLY_CANDIDATES"]

log = get_logger(__name__)

#: How long closing the peer connection may take before it is given up on.
CLOSE_TIMEOUT = 3.0
#: Candidates kept while waiting for the answer; more are refused.
MAX_EARLY_CANDIDATES = 64


class ServerPeer:
    """One ``RTCPeerConnection`` sending ``media``'s face and voice to one client.

    ``on_ice_state`` is called with aiortc's ICE connection state at every change ("new",
    "checking", "completed", "failed", "closed"; aiortc has no "connected").
    """

    def __init__(
        self,
        media: AvatarTracks,
        ice_servers: Sequence[Mapping[str, Any]] = (),
        host_addresses: Sequence[str] | None = None,
        on_ice_state: Callable[[str], None] | None = None,
    ) -> None:
        config = configuration(ice_servers)
        config.bundlePolicy = RTCBundlePolicy.MAX_BUNDLE  # one transport, one UDP socket
        self._pc = RTCPeerConnection(config)
        self._media = media
        self._host_addresses = tuple(host_addresses) if host_addresses is not None else None
        self._unreachable = False
        self._early: list[RTCIceCandidate | None] = []
        self._closed = False
        self.offered = False
        self.answered = False

        @self._pc.on("iceconnectionstatechange")
        def report() -> None:
            if on_ice_state is not None:
                on_ice_state(self._pc.iceConnectionState)

    @property
    def ice_state(self) -> str:
        return self._pc.iceConnectionState

    async def create_offer(self, unreachable: bool = False) -> str:
        """The offer SDP, candidates included.

        ``unreachable`` (a fault) points the offered candidates at a loopback port where
        nothing listens and ignores the client's candidates, so ICE cannot connect; the SDP is
        otherwise the real one.
        """
        # for this server's loop only; None there means aioice's own choice
        restrict_host_candidates(self._host_addresses, loop=asyncio.get_running_loop())
        self._pc.addTransceiver(self._media.face_track, direction="sendonly")
        self._pc.addTransceiver(self._media.voice_track, direction="sendonly")
        await self._pc.setLocalDescription(await self._pc.createOffer())
        sdp = self._pc.localDescription.sdp
        if unreachable:
            self._unreachable = True
            sdp = _with_dead_port(sdp)
        self.offered = True
        return sdp

    async def accept_answer(self, sdp: str) -> None:
        """Apply the client's answer; raises ``InvalidMessage`` if it cannot be used."""
        if not self.offered:
            raise InvalidMessage("no WebRTC offer was sent, so there is nothing to answer")
        if self.answered:
            raise InvalidMessage("an answer was already accepted in this session")
        sdp = _crlf(sdp)
        if self._unreachable:  # the server must not reach the client either (no checks)
            sdp = "".join(line for line in sdp.splitlines(True) if not _is_candidate_line(line))
        try:
            await self._pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
        except Exception as exc:
            raise InvalidMessage(f"the SDP answer cannot be used ({_describe(exc)})") from None
        self.answered = True
        _retrieve_connect_failure(self._pc)
        early, self._early = self._early, []
        for candidate in early:
            await self._pc.addIceCandidate(candidate)

    async def add_candidate(self, message: IceCandidate) -> bool:
        """Add one trickled client candidate; False for end-of-candidates (an empty string).

        Raises ``InvalidMessage`` for text that is not a candidate or when nothing was offered.
        """
        if not self.offered:
            raise InvalidMessage("no WebRTC offer was sent, so no ICE candidates are expected")
        candidate = _parse_candidate(message)
        if self._unreachable:
            return candidate is not None
        if not self.answered:
            if len(self._early) >= MAX_EARLY_CANDIDATES:
                raise InvalidMessage(
                    f"more than {MAX_EARLY_CANDIDATES} ICE candidates before the answer"
                )
            self._early.append(candidate)
        else:
            await self._pc.addIceCandidate(candidate)
        return candidate is not None

    async def close(self) -> None:
        """Stop the tracks and ICE, free the UDP socket; bounded by ``CLOSE_TIMEOUT``."""
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.wait_for(self._pc.close(), CLOSE_TIMEOUT)
        except asyncio.TimeoutError:  # not the builtin before Python 3.11
            log.warning("closing a WebRTC peer connection took over %.1f s", CLOSE_TIMEOUT)


def _retrieve_connect_failure(pc: RTCPeerConnection) -> None:
    """Keep aiortc's own connect task quiet when the session ends while it runs.

    ``setRemoteDescription`` starts ICE and DTLS in a task nobody awaits; closing the peer
    during the DTLS handshake makes it fail ("RTCIceTransport is closed") and asyncio would
    log "Task exception was never retrieved". The failure is expected then: retrieve it.
    """
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        if (
            getattr(coro, "__qualname__", "") == "RTCPeerConnection.__connect"
            and frame is not None
            and frame.f_locals.get("self") is pc
        ):
            task.add_done_callback(_log_connect_failure)


def _log_connect_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("the peer connection closed while connecting: %r", task.exception())


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _crlf(sdp: str) -> str:
    """SDP lines end with CRLF (protocol.md#parsing-rules); some clients send bare LF."""
    return "".join(line.rstrip("\r\n") + "\r\n" for line in sdp.splitlines())


def _is_candidate_line(line: str) -> bool:
    return line.startswith(("a=candidate:", "a=end-of-candidates"))


def _parse_candidate(message: IceCandidate) -> RTCIceCandidate | None:
    """A trickled candidate as aiortc's object, or None for end-of-candidates."""
    text = message.candidate.strip()
    text = text.removeprefix("a=").removeprefix("candidate:")
    if not text:
        return None
    try:
        candidate = candidate_from_sdp(text)
    except (AssertionError, ValueError, IndexError):
        raise InvalidMessage(f"not an ICE candidate: {message.candidate!r}") from None
    candidate.sdpMid = message.sdp_mid
    candidate.sdpMLineIndex = message.sdp_mline_index
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        # A bare string names no media line; with BUNDLE the first one carries everything.
        candidate.sdpMid, candidate.sdpMLineIndex = "0", 0
    return candidate


def _dead_port(address: str) -> int:
    """A UDP port on ``address`` where nothing listens (bound, then released at once)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((address, 0))
            return int(probe.getsockname()[1])
    except OSError:
        return 9  # the discard port: nothing answers there either


def _with_dead_port(sdp: str) -> str:
    """``sdp`` with every candidate (and m-line) port replaced by one where nothing listens."""
    lines = sdp.split("\r\n")
    addresses = [line.split()[4] for line in lines if line.startswith("a=candidate:")]
    port = str(_dead_port(addresses[0] if addresses else "127.0.0.1"))
    rewritten = []
    for line in lines:
        fields = line.split(" ")
        if line.startswith("a=candidate:") and len(fields) > 5:
            fields[5] = port
        elif line.startswith("m=") and len(fields) > 1:
            fields[1] = port
        rewritten.append(" ".join(fields))
    return "\r\n".join(rewritten)

"""One client connection: session setup (protocol.md#server-setup) and message handling.

A ``ServerSession`` runs three things concurrently on the server's event loop:

- the setup sequence: admission, ``connected.success`` (+ warning), ``session.created``, a
  short wait for history, ``session.updated``, with the WebRTC offer where ``offer_timing``
  puts it (or these steps in the order ``setup_sequence`` gives);
- the reader: records every frame, validates it, hands the answer and ICE candidates to the
  ``ServerPeer``, answers refusals with ``realtime.response.error`` and feeds valid messages to
  the ``Conversation``;
- the responder: one reply at a time, in request order, once the session is ready; each reply's
  text is also spoken by the session's voice on the WebRTC tracks (``AvatarTracks``);
- the listener: the user's utterances, one at a time, through the recognizer: each becomes a
  transcription event and a reply request, like a typed text.

Uplink audio is kept (``ReceivedAudio``) and fed to an energy VAD (``EnergyVad``): speech start
sends ``speech_started`` and interrupts the avatar if it is speaking (barge-in); speech stop
sends ``speech_stopped`` and queues the utterance for the listener. In transparency mode
(``model=transparency``) the audio is the avatar's voice instead: kept until ``commit``, then
spoken on the media tracks; no VAD, no recognition, no brain.

The reader runs from the first moment because clients send ``realtime.input_config`` on open,
before they have received anything (protocol.md#session-open).

Faults are read through ``_faults()``: the server's ``Faults`` when they apply to this
connection (``Faults.applies_to``), else none.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, Coroutine, Mapping, Sequence

import attrs
import numpy as np
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from ..logs import get_logger
from . import frames, validate
from .admission import Admission, admit
from .avatar_tracks import SAMPLE_RATE, AvatarTracks
from .avatars import Avatar
from .brain import Brain, BrainRequest, reply_text
from .conversation import Conversation
from .ear import INSTALL_HINT, Recognizer
from .faults import Faults
from .latency import Latency
from .mirror import PushedAudio
from .offload import Offloader
from .received_audio import SAMPLE_RATE as UPLINK_RATE
from .records import ConnectionInfo, Journal, MediaInfo
from .samples import chunks as pcm_chunks
from .server_peer import ServerPeer
from .tool_rule import ToolCall, function_call_done
from .vad import SPEECH_STARTED, EnergyVad
from .voice import Voice, synthesize

__all__ = [
    "ServerContext",
    "ServerSession",
    "TRANSPARENCY_MODEL",
    "NO_RECOGNIZER_MESSAGE",
    "refused_connection",
]

log = get_logger(__name__)

#: ``model=`` value of a transparency (mirror) session (protocol.md#transparency).
TRANSPARENCY_MODEL = "transparency"
#: ``data.code`` of the error sent when an utterance cannot be turned into text.
SPEECH_NOT_RECOGNIZED = "speech_not_recognized"
#: The error text when the server has no recognizer (pocketsphinx is not installed).
NO_RECOGNIZER_MESSAGE = f"speech recognition is not available on this server: {INSTALL_HINT}"
#: Audio kept before the VAD's start point and after its stop point, so no word is clipped.
_PRE_ROLL_SAMPLES = UPLINK_RATE * 3 // 10
_TAIL_SAMPLES = UPLINK_RATE // 5
#: The longest utterance recognised: a longer one keeps its last part.
MAX_UTTERANCE_SECONDS = 30
#: A reply's length when it has no voice to measure: a calm speaker's 150 words a minute.
WORDS_PER_S = 2.5
#: Utterances waiting for the recognizer; when full, a new one is dropped (with an error frame).
MAX_WAITING_UTTERANCES = 4
#: What a connection beyond ``Faults.up_to_connection`` sees: nothing broken. Never changed.
_NO_FAULTS = Faults()


@attrs.frozen
class ServerContext:
    """What every session shares with the server (read-only, except the mutable ``faults``)."""

    license: str = attrs.field(repr=False)
    accept_any_license: bool
    avatars: tuple[Avatar, ...]
    brain: Brain
    faults: Faults
    ice_servers: tuple[Mapping[str, Any], ...]
    history_quiet: float
    history_window: float
    delta_interval: float
    journal: Journal
    offloader: Offloader
    voice: Voice
    voice_offloader: Offloader
    #: None when speech recognition is not available.
    recognizer: Recognizer | None
    ear_offloader: Offloader
    video_size: tuple[int, int]
    fps: float
    audio_deltas: bool
    #: ``data.arguments`` of a tool call: "object" (the hosted service's) or "string"
    tool_arguments: str
    #: end a reply that calls a tool with ``audio.done`` too (not known of the hosted service)
    audio_done_after_tool_call: bool
    #: how long setup and replies take (server/latency.py)
    latency: Latency
    #: Host candidates are limited to these addresses (a loopback server); None: no limit.
    host_addresses: Sequence[str] | None


def _connection_info(
    connection_id: int, path: str, admission: Admission, session_id: str | None, open: bool
) -> ConnectionInfo:
    return ConnectionInfo(
        id=connection_id,
        path=path,
        query=dict(admission.query),
        license_ok=admission.license_ok,
        avatar_id=admission.avatar.id if admission.avatar else None,
        avatar_name=admission.avatar.name if admission.avatar else None,
        model=admission.model,
        session_id=session_id,
        open=open,
    )


def refused_connection(
    connection_id: int, request_path: str, context: ServerContext, open: bool = False
) -> ConnectionInfo:
    """The journal's record of a connection refused during the upgrade (no session)."""
    path, _, query = request_path.partition("?")
    admission = admit(
        query, None if context.accept_any_license else context.license, context.avatars
    )
    return _connection_info(connection_id, path, admission, None, open)


@attrs.frozen
class _SetupPlan:
    """The setup faults as they were when the connection arrived."""

    notice: str | None
    notice_after_success: bool
    close_after_notice: bool


class ServerSession:
    """The server side of one WebSocket connection."""

    def __init__(self, ws: ServerConnection, connection_id: int, context: ServerContext) -> None:
        self.id = connection_id
        self._ws = ws
        self._ctx = context
        path, _, query = ws.request.path.partition("?") if ws.request else ("", "", "")
        self._path = path
        self._admission: Admission = admit(
            query, None if context.accept_any_license else context.license, context.avatars
        )
        faults = self._faults()
        self._plan = _SetupPlan(
            faults.setup_notice, faults.setup_notice_after_success, faults.close_after_notice
        )
        gets_session = self._admission.failure is None and (
            self._plan.notice is None or self._plan.notice_after_success
        )
        self.session_id = str(uuid.uuid4()) if gets_session else None
        self._conversation = Conversation(self._admission.avatar)
        self._replies: asyncio.Queue[BrainRequest] = asyncio.Queue()
        self._transparent = self._admission.model == TRANSPARENCY_MODEL
        self._uplink = context.journal.add_uplink(connection_id)
        self._vad = EnergyVad(UPLINK_RATE)
        self._speech_start = 0
        self._utterances: asyncio.Queue[np.ndarray] = asyncio.Queue(MAX_WAITING_UTTERANCES)
        self._pushed = PushedAudio()
        self._ready = asyncio.Event()
        self._last_received = 0.0
        self._background: set[asyncio.Task[None]] = set()
        self._media: AvatarTracks | None = None
        self._peer: ServerPeer | None = None
        self._candidates = 0
        self._ice_states: tuple[str, ...] = ()
        self._offer_sdp: str | None = None
        self._audio_appends = 0
        self._dropped = False

    def _faults(self) -> Faults:
        """The faults for this connection, read now (none past ``up_to_connection``)."""
        faults = self._ctx.faults
        return faults if faults.applies_to(self.id) else _NO_FAULTS

    # ----------------------------------------------------------------- lifecycle

    async def run(self) -> None:
        """Serve the connection until it closes; every task of the session ends with it."""
        self._register()
        reader = asyncio.create_task(self._read_loop(), name=f"navtalk-server-read-{self.id}")
        responder = asyncio.create_task(
            self._respond_loop(), name=f"navtalk-server-reply-{self.id}"
        )
        listener = asyncio.create_task(self._listen_loop(), name=f"navtalk-server-listen-{self.id}")
        try:
            with contextlib.suppress(ConnectionClosed):
                await self._setup()
            await reader
        finally:
            tasks = [reader, responder, listener, *self._background]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.close_media()
            self._ctx.journal.update_connection(self.id, open=False)
            log.debug("connection %d: ended", self.id)

    def _register(self) -> None:
        adm = self._admission
        self._ctx.journal.add_connection(
            _connection_info(self.id, self._path, adm, self.session_id, open=True)
        )
        self._ctx.journal.add_media(MediaInfo(connection_id=self.id))
        log.debug(
            "connection %d: %s query=%s admitted=%s",
            self.id,
            self._path,
            adm.query,
            adm.failure is None,
        )

    # ----------------------------------------------------------------- setup sequence

    async def _setup(self) -> None:
        """The setup sequence (protocol.md#server-setup), with the setup faults applied."""
        adm, plan = self._admission, self._plan
        if adm.failure is not None:
            await self.send_notice("fail", adm.failure, close=True)
            return
        if plan.notice is not None and not plan.notice_after_success:
            await self.send_notice(plan.notice, None, close=plan.close_after_notice)
            return
        steps = self._faults().setup_steps()
        for index, step in enumerate(steps):
            if step == "updated" and self._faults().stall_before_session_updated:
                log.debug("connection %d: stalling before session.updated (fault)", self.id)
                return
            await self._setup_step(step, first=step not in steps[:index])
            if step == "success" and plan.notice is not None:
                await self.send_notice(plan.notice, None, close=plan.close_after_notice)
                return
            if self._drop_point_reached(steps[: index + 1], steps[index + 1 : index + 2]):
                log.debug("connection %d: dropping %s (fault)", self.id, self._faults().drop_at)
                self.drop()
                return
        if "updated" in steps:
            self._ready.set()

    async def _setup_step(self, step: str, first: bool) -> None:
        """One setup event (``Faults.setup_steps``); ``first``: its first time in the sequence."""
        adm = self._admission
        if step == "success":
            assert self.session_id is not None and adm.avatar is not None
            await self._send(frames.connected_success(self.session_id, self._ctx.ice_servers))
            if not first:  # a duplicate success is that event alone
                return
            if adm.ambiguous:
                await self._send(frames.avatar_warning(adm.avatar.id, adm.avatar.name))
            for raw in list(self._faults().frames_after_success):
                await self.send_raw(raw)
        elif step == "offer":
            await self._send_webrtc_offer()
        elif step == "created":
            await self._send(frames.session_created())
            await self._wait_for_history()
        elif step == "updated":
            self._conversation.end_history()
            if first and self._ctx.latency.setup:
                await asyncio.sleep(self._ctx.latency.setup)  # a hosted avatar's start
            await self._send(frames.session_updated())
            delay = self._faults().slow_reader_after
            if first and delay is not None:
                self._start_background(self._freeze_after(delay), "slow-reader")

    def _drop_point_reached(self, done: Sequence[str], following: Sequence[str]) -> bool:
        """``drop_at`` after success or created: once that step went out, and the offer too
        when it comes next."""
        step = {"after_success": "success", "after_created": "created"}.get(
            self._faults().drop_at or ""
        )
        return step is not None and step in done and tuple(following) != ("offer",)

    async def _freeze_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        log.debug("connection %d: a slow reader from now on (fault)", self.id)
        self.freeze()

    async def _send_webrtc_offer(self) -> None:
        """The avatar's media and the offer for it (video then audio, candidates embedded)."""
        faults, ctx = self._faults(), self._ctx
        if faults.no_offer:
            log.debug("connection %d: sending no offer (fault)", self.id)
            return
        if self._offer_sdp is not None:  # a repeated offer step: the same offer again
            await self._send(frames.webrtc_offer(self._offer_sdp))
            return
        self._media = AvatarTracks(ctx.video_size, ctx.fps)
        self._peer = ServerPeer(self._media, ctx.ice_servers, ctx.host_addresses, self._on_ice)
        sdp = await self._peer.create_offer(unreachable=faults.offer_unreachable)
        self._offer_sdp = sdp
        await self._send(frames.webrtc_offer(sdp))
        ctx.journal.update_media(self.id, offered=True)

    def _on_ice(self, state: str) -> None:
        log.debug("connection %d: ICE %s", self.id, state)
        self._ice_states += (state,)
        self._ctx.journal.update_media(self.id, ice_state=state, ice_states=self._ice_states)
        delay = self._faults().media_stop_after
        if state == "completed" and delay is not None:
            self._start_background(self._stop_media_after(delay), "media-stop")

    async def _stop_media_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        log.debug("connection %d: stopping the media (fault)", self.id)
        self.stop_media()

    async def _wait_for_history(self) -> None:
        """Until nothing arrived for ``history_quiet`` s, at most ``history_window`` s."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + self._ctx.history_window
        while True:
            quiet_until = max(start, self._last_received) + self._ctx.history_quiet
            now = loop.time()
            if now >= quiet_until or now >= deadline:
                return
            await asyncio.sleep(min(quiet_until, deadline) - now)

    # ----------------------------------------------------------------- reading

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionClosed):
            async for raw in self._ws:
                if self._dropped:  # frames still buffered from a dropped connection
                    return
                self._last_received = loop.time()
                try:
                    await self._handle(raw)
                except ConnectionClosed:
                    raise
                except Exception:  # a bug in handling one message must not end the session
                    log.exception("connection %d: failed to handle a message", self.id)
                    await self._send(frames.response_error("internal server error", "internal"))

    async def _handle(self, raw: str | bytes) -> None:
        journal = self._ctx.journal
        message = None
        try:
            message = validate.decode(raw)
            normalised = validate.normalise(message)
            await self._signal(normalised)
        except validate.InvalidMessage as exc:
            journal.add_message(self.id, raw, message, False, exc.reason)
            await self._refuse(exc.reason)
            return
        journal.add_message(self.id, raw, message, True, None)
        log.debug("connection %d: received %s", self.id, type(normalised).__name__)
        if isinstance(normalised, validate.AudioAppend) and (
            normalised.size > validate.LARGE_AUDIO_BYTES
        ):
            log.debug("connection %d: large audio chunk (%d bytes)", self.id, normalised.size)
        request = self._conversation.apply(normalised)
        if isinstance(normalised, validate.AudioAppend):
            await self._on_audio(normalised.pcm)
            self._drop_mid_audio()
        elif self._transparent and isinstance(normalised, validate.AudioCommit):
            self._speak_pushed_audio()
        elif self._transparent and isinstance(normalised, validate.AudioClear):
            self._pushed.clear()
        if request is not None and self._transparent:
            log.debug("connection %d: no reply in transparency mode", self.id)
        elif request is not None:
            self._replies.put_nowait(request)

    def _drop_mid_audio(self) -> None:
        """``drop_at="mid_audio"``: abort once ``drop_audio_after`` chunks have arrived."""
        self._audio_appends += 1
        faults = self._faults()
        if faults.drop_at == "mid_audio" and self._audio_appends >= faults.drop_audio_after:
            log.debug("connection %d: dropping mid-audio (fault)", self.id)
            self.drop()

    async def _signal(self, message: validate.ClientMessage) -> None:
        """The client's answer and candidates go to the peer, which may refuse them."""
        if isinstance(message, validate.SignalingSdp) and message.kind == "answer":
            await self._offered_peer().accept_answer(message.sdp)
            self._ctx.journal.update_media(self.id, answered=True)
        elif isinstance(message, validate.IceCandidate):
            added = await self._offered_peer().add_candidate(message)
            self._candidates += added  # end-of-candidates is not a candidate
            self._ctx.journal.update_media(self.id, candidates_received=self._candidates)

    def _offered_peer(self) -> ServerPeer:
        if self._peer is None:
            raise validate.InvalidMessage("no WebRTC offer was sent in this session yet")
        return self._peer

    async def _refuse(self, reason: str) -> None:
        log.debug("connection %d: refused a message: %s", self.id, reason)
        await self._send(frames.invalid_message(reason))

    # ----------------------------------------------------------------- listening

    async def _on_audio(self, pcm: bytes) -> None:
        """Keep the chunk; in normal mode, run the VAD over it and act on what it decides."""
        samples = self._uplink.append(pcm)
        if self._transparent:
            self._pushed.add(samples)
            return
        for event in self._vad.feed(samples):
            if event.kind == SPEECH_STARTED:
                await self._speech_started(event.sample)
            else:
                await self._speech_stopped(event.sample)

    async def _speech_started(self, sample: int) -> None:
        self._speech_start = sample
        warm = getattr(self._ctx.recognizer, "warm", None)
        if callable(warm):  # the ear's worker starts while the user is still speaking
            warm()
        if self._media is not None and self._media.speaking:
            log.debug("connection %d: barge-in: the avatar stops speaking", self.id)
            self._media.interrupt()
        await self._send(frames.speech_started())

    async def _speech_stopped(self, sample: int) -> None:
        await self._send(frames.speech_stopped())
        start = max(
            self._speech_start - _PRE_ROLL_SAMPLES, sample - MAX_UTTERANCE_SECONDS * UPLINK_RATE
        )
        utterance = self._uplink.samples(start, sample + _TAIL_SAMPLES)
        try:
            self._utterances.put_nowait(utterance)
        except asyncio.QueueFull:
            log.warning("connection %d: too many utterances waiting; dropped one", self.id)
            message = "the server is still recognising earlier speech; this utterance was dropped"
            await self._send(frames.response_error(message, SPEECH_NOT_RECOGNIZED))

    async def _listen_loop(self) -> None:
        """Utterances in the order they ended, one at a time."""
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self._recognise(await self._utterances.get())

    async def _recognise(self, utterance: np.ndarray) -> None:
        """Transcription event, then a reply request with the text, as if it were typed."""
        recognizer = self._ctx.recognizer
        if recognizer is None:
            await self._send(frames.response_error(NO_RECOGNIZER_MESSAGE, SPEECH_NOT_RECOGNIZED))
            return
        try:
            text = await self._ctx.ear_offloader.run(recognizer, utterance, UPLINK_RATE)
        except Exception as exc:
            log.warning("connection %d: speech recognition failed: %r", self.id, exc)
            message = f"speech recognition failed: {type(exc).__name__}: {exc}"
            await self._send(frames.response_error(message, SPEECH_NOT_RECOGNIZED))
            return
        text = text.strip() if isinstance(text, str) else ""
        log.debug("connection %d: heard %r", self.id, text)
        await self._send(frames.input_transcription(text))
        if text:  # nothing understood: nothing to answer
            self._replies.put_nowait(self._conversation.hear(text))

    def _speak_pushed_audio(self) -> None:
        """Transparency ``commit``: the pushed audio becomes the avatar's next utterance."""
        samples = self._pushed.take()
        if self._media is None:
            log.debug("connection %d: committed audio dropped: no media yet", self.id)
            return
        self._media.speak(samples, UPLINK_RATE)

    # ----------------------------------------------------------------- replies

    async def _respond_loop(self) -> None:
        """Replies wait for ``session.updated``; requests made earlier are kept in order."""
        await self._ready.wait()
        with contextlib.suppress(ConnectionClosed):
            while await self._reply(await self._replies.get()):
                pass

    async def _reply(self, request: BrainRequest) -> bool:
        """Ask the brain and stream its answer. False once the connection is gone."""
        response_id = frames.new_response_id()
        asked = asyncio.get_running_loop().time()
        try:
            result = await self._ctx.offloader.run(self._ctx.brain, request)
            if isinstance(result, ToolCall):
                await self._think(asked)
                return await self._call_tool(response_id, result)
            text = reply_text(result)
        except Exception as exc:
            log.debug("connection %d: brain failed: %r", self.id, exc)
            message = f"The reply failed: {type(exc).__name__}: {exc}"
            await self._send(frames.response_error(message, frames.RESPONSE_FAILED, response_id))
            return True
        if text is None:
            log.debug("connection %d: the brain gave no reply", self.id)
            return True
        return await self._stream(response_id, text, asked)

    async def _call_tool(self, response_id: str, call: ToolCall) -> bool:
        """Ask the client to run a tool (protocol.md#tool-calls); the client's output and its next
        ``response.create`` make the next request, which carries the result to the brain.

        Whether the hosted service also sends ``audio.done`` for such a response is not known:
        OpenAI's events have none for a response without audio, so by default there is none
        (``audio_done_after_tool_call=True`` sends one; a client must be right either way).
        """
        self._conversation.asked(call)
        log.debug("connection %d: asking for tool %s (%s)", self.id, call.name, call.call_id)
        await self._send(function_call_done(call, response_id, self._ctx.tool_arguments))
        if self._ctx.audio_done_after_tool_call:
            await self._send(frames.audio_done(response_id, self._faults().legacy_names))
        return True

    async def _think(self, asked: float) -> None:
        """Wait until ``latency.first_text`` has passed since the request (at ``asked``)."""
        wait = asked + self._ctx.latency.first_text - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _stream(self, response_id: str, text: str, asked: float) -> bool:
        faults = self._faults()
        legacy = faults.legacy_names
        # The voice is made before the first delta, so it starts with the text; the pieces
        # then come as fast as ``latency.generation`` makes them (all at once by default).
        speech = await self._synthesize(text)
        await self._think(asked)
        if speech is not None and self._media is not None:
            self._media.speak(speech[0], SAMPLE_RATE)
        for raw in list(faults.frames_before_reply):
            await self.send_raw(raw)
        pieces = frames.split_reply(text)
        voice_seconds = len(speech[0]) / SAMPLE_RATE if speech else len(text.split()) / WORDS_PER_S
        interval = max(
            self._ctx.delta_interval, self._ctx.latency.spread(voice_seconds, len(pieces))
        )
        for index, piece in enumerate(pieces):
            if index and interval > 0:
                await asyncio.sleep(interval)
            await self._send(frames.transcript_delta(response_id, piece, legacy))
            if index == 0 and (faults.drop_mid_reply or faults.drop_at == "mid_reply"):
                log.debug("connection %d: dropping mid-reply (fault)", self.id)
                self.drop()
                return False
        await self._send(frames.transcript_done(response_id, text, legacy))
        if speech is not None and self._ctx.audio_deltas:
            for chunk in pcm_chunks(speech[1], frames.AUDIO_DELTA_SAMPLES):
                await self._send(frames.audio_delta(response_id, chunk, legacy))
        await self._send(frames.audio_done(response_id, legacy))
        reason = faults.close_reason_after_reply
        if reason is not None:
            await self.close(1000, reason)
            return False
        return True

    async def _synthesize(self, text: str) -> list[np.ndarray] | None:
        """The reply's voice at 48 kHz (for the WebRTC track) and, with ``audio_deltas``, at
        24 kHz (for ``audio.delta`` events); None when nobody would hear it or the voice failed.
        """
        if self._media is None and not self._ctx.audio_deltas:
            return None
        rates = [SAMPLE_RATE, frames.AUDIO_DELTA_RATE] if self._ctx.audio_deltas else [SAMPLE_RATE]
        try:
            return await self._ctx.voice_offloader.run(synthesize, self._ctx.voice, text, rates)
        except Exception as exc:  # the reply goes on without a voice
            log.warning("connection %d: the voice failed: %r", self.id, exc)
            return None

    # ----------------------------------------------------------------- media

    def stop_media(self) -> None:
        """Face and voice go silent for good; ICE and the socket stay up."""
        if self._media is not None:
            self._media.stop()

    def media_info(self) -> MediaInfo:
        """The journal's record with the live counters."""
        info = self._ctx.journal.media(self.id)
        media = self._media
        if media is None:
            return info
        return attrs.evolve(
            info,
            frames_sent=media.frames_sent,
            audio_frames_sent=media.audio_frames_sent,
            speaking=media.speaking,
        )

    async def close_media(self) -> None:
        """Close the peer connection (bounded) and keep the final counters. Idempotent."""
        if self._peer is not None:
            await self._peer.close()
        late = list(self._background)  # e.g. a media-stop timer started while closing
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)
        final = self.media_info()
        self._ctx.journal.update_media(
            self.id,
            frames_sent=final.frames_sent,
            audio_frames_sent=final.audio_frames_sent,
            speaking=False,
        )

    # ----------------------------------------------------------------- actions

    async def _send(self, frame: Mapping[str, Any]) -> None:
        log.debug("connection %d: sending %s", self.id, frame.get("type"))
        await self._ws.send(frames.encode(frame))

    async def send_event(self, frame: Mapping[str, Any]) -> None:
        """Any JSON frame, as given."""
        await self._send(frame)

    async def send_raw(self, raw: str | bytes) -> None:
        """A text frame (str, sent unchecked) or a binary frame (bytes)."""
        log.debug("connection %d: sending a raw %s frame", self.id, type(raw).__name__)
        await self._ws.send(raw)

    async def send_notice(self, kind: str, message: str | None, close: bool) -> None:
        """``conversation.connected.<kind>``, then a normal close if ``close``."""
        frame = frames.notice(kind, message, legacy=self._faults().legacy_names)
        await self._send(frame)
        if close:
            await self.close(1000, "")

    async def close(self, code: int, reason: str) -> None:
        """A close frame; waits (bounded by the server's close timeout) for the client's."""
        log.debug("connection %d: closing with %d %r", self.id, code, reason)
        await self._ws.close(code, reason)

    def start_close(self, code: int, reason: str) -> None:
        """Send a close frame without waiting for the client's answer (for live actions)."""
        self._start_background(self.close(code, reason), "close")

    def _start_background(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        """A task that ends with the session at the latest."""
        task = asyncio.create_task(coro, name=f"navtalk-server-{what}-{self.id}")
        self._background.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("connection %d: %s failed: %r", self.id, task.get_name(), task.exception())

    def freeze(self) -> None:
        """Go silent: stop reading, so nothing is answered (no pongs, no close handshake)."""
        log.debug("connection %d: frozen (no longer reading)", self.id)
        if self._ws.transport is not None:
            self._ws.transport.pause_reading()

    async def ping(self) -> float:
        """Send a WebSocket ping; returns the seconds until the client's pong came back."""
        pong = await self._ws.ping()
        return await pong

    def drop(self) -> None:
        """Abort the TCP connection: no close frame, the client sees an abnormal end. Frames
        already received but not yet handled are left unhandled."""
        log.debug("connection %d: dropping the TCP connection", self.id)
        self._dropped = True
        if self._ws.transport is not None:
            self._ws.transport.abort()

    @property
    def is_open(self) -> bool:
        """True until the closing handshake starts or the connection is lost."""
        return self._ws.protocol.state is State.OPEN

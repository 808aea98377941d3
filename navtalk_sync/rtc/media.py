"""The avatar's media for one client: signaling, watchdogs, and where every frame goes.

``AvatarMedia`` is what the session talks to. It owns the ``navtalk-rtc`` loop with the
``Answerer`` on it, the video feed (``navtalk-video``), the voice feed
(``navtalk-avatar-audio``), the optional speaker (``navtalk-speaker``) and recorder
(``navtalk-recorder``). The session calls it from the reader thread (offer, candidates,
barge-in); it answers through the ``send`` function it was given and reports through
``client.media`` events.

Two watchdogs run on the loop: one fails the media when it is not connected ``media_timeout``
seconds after ``connected.success`` (no offer, or ICE never connects); one reports ``stalled``
when no video frame came for ``stall_timeout`` seconds (aioice alone needs about 30 s to notice
a silently dead peer) and ``flowing`` again when frames resume.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import enum
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Mapping, Sequence

import av
import numpy as np

from .. import messages
from ..errors import MediaError, NavTalkError, NavTalkTimeout, NotConnected
from ..events import CallbackFailure, Event, IceServer, MediaChanged
from ..logs import get_logger
from ..options import MediaOptions
from ..timeouts import Deadline
from .hush import Hush
from .ice import restrict_host_candidates
from .loop import LoopThread
from .mouth import MouthWatch, brightness
from .peer import CONNECTED_STATES, Answerer
from .video import VideoFeed
from .voice import SpeakingDetector, VoiceFeed, chunk_from_frame

if TYPE_CHECKING:  # imported when used: PyAudio and the encoders load only if asked for
    from ..audio.echo import EchoCanceller
    from ..audio.speaker import Speaker
    from .recorder import Recorder, RecordingSummary

__all__ = ["AvatarMedia", "MediaState", "PUBLIC_STUN"]

log = get_logger(__name__)

#: What every official client falls back to; used only with ``stun_fallback=True``.
PUBLIC_STUN = {"urls": ["stun:stun.l.google.com:19302"]}
#: How long stats() waits for the rtc loop to read the peer's figures.
NETWORK_STATS_WAIT = 0.5
#: How often the watchdogs look.
WATCH_INTERVAL = 0.25
#: The speaker is fed the Opus decoder's own layout; anything else is converted to it.
SPEAKER_RATE, SPEAKER_LAYOUT = 48000, "stereo"


class MediaState(str, enum.Enum):
    """The avatar media's states, as ``client.media`` reports them (compare with plain strings
    too)."""

    OFF = "off"  # the client was made with media=False (never a state of AvatarMedia)
    IDLE = "idle"  # no session yet, or between sessions
    WAITING = "waiting"  # connected.success came: waiting for the server's offer
    NEGOTIATING = "negotiating"  # the answer is sent: ICE and DTLS under way
    CONNECTED = "connected"  # ICE is up; no video frame yet
    FLOWING = "flowing"  # video frames arrive (audio frames, with video=False)
    STALLED = "stalled"  # none for stall_timeout
    FAILED = "failed"  # no offer or no connection in time, or ICE/DTLS failed
    CLOSED = "closed"

    def __str__(self) -> str:
        return self.value


_UP = (MediaState.CONNECTED, MediaState.FLOWING, MediaState.STALLED)


class AvatarMedia:
    """The WebRTC side of a client: from the server's offer to frames in the user's hands."""

    def __init__(
        self,
        options: MediaOptions,
        host_addresses: tuple[str, ...] | None,
        publish: Callable[[Event], None],
        echo: EchoCanceller | None = None,
    ) -> None:
        self._options = options
        self._echo = echo  # told what the speaker plays
        self._host_addresses = host_addresses  # what ICE may use: see config.ice_host_addresses
        self._publish = publish
        self._send: Callable[[Mapping[str, Any]], None] | None = None
        self._on_change: Callable[[], None] = lambda: None
        self._on_failure: Callable[[MediaError], None] = lambda error: None
        self._lock = threading.RLock()  # state and the recorder slot
        self._lifecycle = threading.Lock()  # open() against close()
        self._state = MediaState.IDLE
        self._loop = LoopThread("navtalk-rtc")
        # touched on the loop only:
        self._answerer: Answerer | None = None
        self._watchdog: concurrent.futures.Future[None] | None = None
        self._signaling: asyncio.Lock | None = None
        self._early_candidates: list[tuple[str, str | None, int | None]] = []
        self._connected_at: float | None = None
        self._speaker_resampler: av.AudioResampler | None = None
        self._ice_servers: list[dict[str, Any]] = []
        self._speaker: Speaker | None = None
        self._recorder: Recorder | None = None
        self._opened = False
        self._closed = False
        self.video = VideoFeed()
        self.voice = VoiceFeed()
        self.video.set_error_handler(self._callback_failed)
        self.voice.set_error_handler(self._callback_failed)
        self.offers_ignored = 0
        self._speaking = SpeakingDetector()
        self._hush = Hush()  # after interrupt(): what the speaker does not play
        self._last_audio: float | None = None  # with video=False, what the stall watch reads
        self._speaking_listeners: list[Callable[[bool, float], None]] = []
        region = options.mouth_region
        self._mouth = MouthWatch(region) if region is not None else None
        self._mouth_listeners: list[Callable[[bool, float], None]] = []

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> MediaState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state in _UP

    def _set_state(self, state: MediaState, reason: str | None = None) -> None:
        with self._lock:
            previous = self._state
            if previous == state or previous == MediaState.CLOSED:
                return
            self._state = state
            self._publish(MediaChanged(state=state.value, previous=previous.value, reason=reason))
            if (previous in _UP) != (state in _UP):
                self._on_change()  # under the lock, so the session sees changes in order
        log.debug("media %s -> %s%s", previous, state, f" ({reason})" if reason else "")

    def _fail(self, reason: str) -> None:
        if self._state in (MediaState.FAILED, MediaState.CLOSED) or self._closed:
            return
        log.warning("avatar media failed: %s", reason)
        self._set_state(MediaState.FAILED, reason)
        if self._options.required:
            self._on_failure(MediaError(f"the avatar's media failed: {reason}"))

    # ------------------------------------------------------------------ opening (caller thread)

    def open(
        self,
        send: Callable[[Mapping[str, Any]], None],
        on_change: Callable[[], None],
        on_failure: Callable[[MediaError], None],
    ) -> None:
        """Start the threads and open the speaker and recorder, so device and file errors
        surface from ``connect()``. ``send`` sends a client message on the socket;
        ``on_change`` is called (under the media's lock) when ``connected`` flips.

        Each new session (reconnection) calls it again with its own functions; the threads
        are started once."""
        with self._lifecycle:
            if self._closed:
                return
            with self._lock:
                self._send, self._on_change, self._on_failure = send, on_change, on_failure
            if self._opened:
                return
            self._opened = True
            self._loop.start()
            restrict_host_candidates(self._host_addresses, loop=self._loop.loop)
            self.video.start()
            self.voice.start()
            options = self._options
            if options.speaker not in (None, False):
                from ..audio.speaker import Speaker

                echo = self._echo
                speaker = Speaker(
                    options.speaker,
                    sample_rate=SPEAKER_RATE,
                    channels=2,
                    reference=echo.played if echo is not None else None,
                )
                speaker.start()
                self._speaker = speaker
                if echo is not None:
                    echo.set_latency("output", speaker.latency or 0.0)
            if options.record is not None:
                self._start_recorder(self._new_recorder(options.record))

    # ------------------------------------------------------------------ reader-thread calls

    def start(self, ice_servers: Sequence[IceServer]) -> None:
        """At ``connected.success``: remember the ICE servers, arm the connect watchdog."""
        self._ice_servers = [server.to_dict() for server in ice_servers]
        if not self._ice_servers and self._options.stun_fallback:
            self._ice_servers = [PUBLIC_STUN]
        self._set_state(MediaState.WAITING)
        self._watchdog = self._submit(self._watch())

    def offer(self, sdp: str | None) -> None:
        """The server's ``webrtc.signaling.offer``: answer it on the loop."""
        self._submit(self._answer(sdp))

    def candidate(self, candidate: str | None, sdp_mid: str | None, index: int | None) -> None:
        """A candidate the server trickled (``webrtc.signaling.iceCandidate``)."""
        if candidate is not None:
            self._submit(self._add_candidate(candidate, sdp_mid, index))

    def on_speaking(self, fn: Callable[[bool, float], None]) -> None:
        """Call ``fn(speaking, at)`` (on the rtc loop; it must return at once) when the
        avatar's received voice starts or stops (level-based, see ``SpeakingDetector``);
        ``at`` is the ``time.monotonic()`` of the change (for a stop: the last loud moment)."""
        self._speaking_listeners = [*self._speaking_listeners, fn]

    def on_mouth(self, fn: Callable[[bool, float], None]) -> None:
        """Call ``fn(moving, at)`` (on the rtc loop; it must return at once) when the avatar's
        mouth starts or stops moving in the picture (see ``MouthWatch``; never when the
        ``mouth_region`` setting is None)."""
        self._mouth_listeners = [*self._mouth_listeners, fn]

    def call_later(self, delay: float, fn: Callable[[], None]) -> None:
        """Run ``fn()`` on the rtc loop after ``delay`` seconds (if the loop still runs); it
        must return at once."""
        self._loop.call_later(delay, fn)

    @property
    def avatar_speaking(self) -> bool:
        return self._speaking.speaking

    def barge_in(self) -> None:
        """The user started speaking: drop the avatar's voice still queued for the speaker."""
        if self._speaker is not None:
            self._speaker.flush()

    def interrupt(self, reply_open: bool) -> None:
        """Silence the avatar here, now: drop what the speaker holds and play nothing more of
        the reply being received (see ``Hush``; the server goes on sending it: there is no
        message to stop it). ``reply_open``: the reply has not ended yet, or is still owed."""
        self._hush.start(reply_open, self._speaking.speaking, time.monotonic())
        if self._speaker is not None:
            self._speaker.flush()

    def user_turn(self) -> None:
        """The user's turn ended: a hush whose reply has ended lets the answer be heard."""
        self._hush.user_turn()

    def reply_ended(self) -> None:
        """A reply ended (``ReplyEnds``): a hush waits for that, then for the voice to stop."""
        self._hush.reply_ended(time.monotonic())

    def _submit(self, coro: Coroutine[Any, Any, None]) -> concurrent.futures.Future[None] | None:
        """Run ``coro`` on the loop; after close (a late frame on the reader) drop it."""
        if self._closed:
            coro.close()
            return None
        try:
            future = self._loop.submit(coro)
        except (NotConnected, RuntimeError):  # the loop stopped meanwhile
            coro.close()
            return None
        future.add_done_callback(self._check_done)
        return future

    def reset(self, deadline: Deadline) -> None:
        """Forget the last session's peer connection, so the next session's offer is
        answered afresh (reconnection). The threads, the feeds, the speaker (flushed) and a
        recording go on."""
        if self._closed or not self._loop.running:
            return
        try:
            self._loop.run(
                self._reset_peer(deadline.remaining(0.8)),
                deadline.remaining(),
                "resetting the peer",
            )
        except NavTalkError as exc:
            log.warning("resetting the media: %s", exc)
        if self._speaker is not None:
            self._speaker.flush()
        self._hush.clear()
        self._last_audio = None
        self._set_state(MediaState.IDLE, "new session")

    async def _reset_peer(self, timeout: float) -> None:
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.cancel()
        async with self._signaling_lock():
            answerer, self._answerer = self._answerer, None
            self._early_candidates.clear()
            self._connected_at = None
        if answerer is not None:
            await answerer.close(timeout)  # its late state changes are ignored: not current

    def _check_done(self, future: concurrent.futures.Future[None]) -> None:
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:  # a bug, not a media condition: say so, then fail the media
            log.error("avatar media task failed", exc_info=error)
            self._fail(f"internal error: {error!r}")

    # ------------------------------------------------------------------ on the loop

    def _signaling_lock(self) -> asyncio.Lock:
        # created on the loop; signaling steps run one at a time, in arrival order
        if self._signaling is None:
            self._signaling = asyncio.Lock()
        return self._signaling

    async def _answer(self, sdp: str | None) -> None:
        async with self._signaling_lock():
            if self._closed:
                return
            if self._answerer is not None:
                # the client does not renegotiate (protocol.md#renegotiation), whatever a
                # later offer holds
                self.offers_ignored += 1
                log.warning("ignored a second WebRTC offer: the client does not renegotiate")
                return
            if sdp is None:
                self._fail("the server's offer held no usable SDP")
                return
            answerer = self._answerer = self._new_answerer()
            try:
                answer = await answerer.answer(sdp)
            except Exception as exc:
                self._answerer = None  # a corrected offer may follow
                await answerer.close(1.0)
                self._fail(f"could not answer the server's offer: {exc!r}")
                return
            self._set_state(MediaState.NEGOTIATING)
            try:
                # off the loop: a send queue full of microphone audio must not freeze ICE
                await asyncio.get_running_loop().run_in_executor(
                    None, self._send_now, messages.signaling_answer(answer)
                )
            except NavTalkError as exc:
                self._fail(f"could not send the answer: {exc}")
                return
            for args in self._early_candidates:
                await self._apply_candidate(*args)
            self._early_candidates.clear()

    def _new_answerer(self) -> Answerer:
        answerer = Answerer(
            self._ice_servers,
            on_video=self._video_frame,
            on_audio=self._audio_frame,
            on_ice_state=lambda state: self._ice_state(answerer, state),
            on_connection_state=lambda state: self._connection_state(answerer, state),
            transport_policy=self._options.ice_transport_policy,
            decode_video=self._options.video,
        )
        return answerer

    def _send_now(self, message: Mapping[str, Any]) -> None:
        assert self._send is not None
        self._send(message)

    async def _add_candidate(self, candidate: str, sdp_mid: str | None, index: int | None) -> None:
        async with self._signaling_lock():
            if self._answerer is None:
                self._early_candidates.append((candidate, sdp_mid, index))
            else:
                await self._apply_candidate(candidate, sdp_mid, index)

    async def _apply_candidate(
        self, candidate: str, sdp_mid: str | None, index: int | None
    ) -> None:
        assert self._answerer is not None
        try:
            await self._answerer.add_candidate(candidate, sdp_mid, index)
        except Exception as exc:  # a bad candidate is the server's problem; keep going
            log.warning("ignored a server ICE candidate %.60r: %r", candidate, exc)

    def _ice_state(self, answerer: Answerer, state: str) -> None:
        if answerer is not self._answerer:
            return  # a peer of an earlier session, closing
        if state in CONNECTED_STATES:
            if self._state not in _UP:
                self._connected_at = time.monotonic()
                self._set_state(MediaState.CONNECTED)
        elif state == "failed":
            why = _why_no_relay(answerer)
            self._fail("ICE failed" + (f": {why}" if why else ""))
        elif state == "closed" and not self._closed:
            self._fail("the server closed the media connection")

    def _connection_state(self, answerer: Answerer, state: str) -> None:
        if answerer is self._answerer and state == "failed":
            self._fail("the media connection failed (DTLS)")

    def _video_frame(self, frame: av.VideoFrame) -> None:
        self.video.push(frame)
        recorder = self._recorder
        if recorder is not None:
            recorder.add_video(frame)
        if self._state in (MediaState.CONNECTED, MediaState.STALLED):
            resumed = None if self._state == MediaState.CONNECTED else "frames resumed"
            self._set_state(MediaState.FLOWING, resumed)
        self._watch_mouth(frame)  # last: a figure must never cost the frame its other uses

    def _watch_mouth(self, frame: av.VideoFrame) -> None:
        listeners, watch = self._mouth_listeners, self._mouth
        if watch is None or not listeners:
            return
        at = time.monotonic()
        try:
            change = watch.feed(brightness(frame), at)
        except Exception:  # a frame the measure cannot read: no figure, nothing else lost
            log.debug("the mouth watch could not read a frame", exc_info=True)
            return
        if change is not None:
            for listener in listeners:
                listener(change, at)

    def _audio_frame(self, frame: av.AudioFrame) -> None:
        if not self._options.video:  # voice only: the voice is what flows
            self._last_audio = time.monotonic()
            if self._state in (MediaState.CONNECTED, MediaState.STALLED):
                resumed = None if self._state == MediaState.CONNECTED else "audio resumed"
                self._set_state(MediaState.FLOWING, resumed)
        recorder = self._recorder
        if recorder is not None:
            recorder.add_audio(frame)
        listeners = self._speaking_listeners
        if self.voice.has_callbacks or listeners:
            chunk = chunk_from_frame(frame)
            self.voice.push(chunk)
            change = self._speaking.feed(chunk)
            if change is not None:
                at = time.monotonic() - (0.0 if change else self._speaking.quiet_for)
                for listener in listeners:
                    listener(change, at)
        else:
            self.voice.received += 1
        speaker = self._speaker
        if speaker is not None and not self._hush.silent(self._speaking.speaking, time.monotonic()):
            for converted in self._for_speaker(frame):
                speaker.play(converted.to_ndarray())

    def _for_speaker(self, frame: av.AudioFrame) -> list[av.AudioFrame]:
        """The frame as 48 kHz stereo s16 (what Opus decodes to; G.711 or G.722 are not)."""
        if (
            frame.sample_rate == SPEAKER_RATE
            and frame.layout.name == SPEAKER_LAYOUT
            and frame.format.name == "s16"
        ):
            return [frame]
        if self._speaker_resampler is None:
            self._speaker_resampler = av.AudioResampler("s16", SPEAKER_LAYOUT, SPEAKER_RATE)
        return self._speaker_resampler.resample(frame)

    async def _watch(self) -> None:
        """The connect watchdog, then the stall watchdog, until the loop stops."""
        options = self._options
        deadline = time.monotonic() + options.timeout
        while not self.connected and time.monotonic() < deadline:
            await asyncio.sleep(min(WATCH_INTERVAL, options.timeout))
        if not self.connected:
            answerer = self._answerer
            what = "ICE did not connect" if answerer else "no WebRTC offer arrived"
            why = _why_no_relay(answerer) if answerer else None
            self._fail(f"{what} within {options.timeout:g} s" + (f": {why}" if why else ""))
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            self._check_stall(options.stall_timeout)

    def _check_stall(self, stall_timeout: float) -> None:
        # connected with no frame yet counts too: ICE can be up while nothing ever arrives
        video = self._options.video
        arrived = self.video.last_arrival() if video else self._last_audio
        # a frame of the last session says nothing about this one
        known = [t for t in (arrived, self._connected_at) if t is not None]
        last = max(known) if known else None
        if self._state in (MediaState.FLOWING, MediaState.CONNECTED) and last is not None:
            silent = time.monotonic() - last
            if silent > stall_timeout:
                what = "video frame" if video else "audio frame (video=False)"
                self._set_state(MediaState.STALLED, f"no {what} for {silent:.1f} s")

    # ------------------------------------------------------------------ recording

    def record(
        self, path: str, user_audio: bool | None = None, subtitles: bool | None = None
    ) -> None:
        """Start recording to ``path`` (.mp4 or .mkv); ``user_audio`` and ``subtitles``
        default to the ``record_user_audio`` and ``record_subtitles`` settings."""
        with self._lifecycle:  # close() cannot pass between the check and the start
            if self._closed:
                raise NotConnected("the client is closed")
            self._start_recorder(self._new_recorder(path, user_audio, subtitles))

    def _new_recorder(
        self, path: str, user_audio: bool | None = None, subtitles: bool | None = None
    ) -> Recorder:
        from .recorder import Recorder

        options = self._options
        return Recorder(
            path,
            video=options.video,
            user_audio=options.record_user_audio if user_audio is None else user_audio,
            subtitles=options.record_subtitles if subtitles is None else subtitles,
        )

    def record_user_audio(self, pcm: np.ndarray, sample_rate: int) -> None:
        """A piece of the user's voice just went up (the uplink's thread; never blocks)."""
        recorder = self._recorder
        if recorder is not None:
            recorder.add_user_audio(pcm, sample_rate)

    def record_cue(self, start: float, end: float, speaker: str, text: str) -> None:
        """A line of the conversation, for the recording's subtitles (never blocks)."""
        recorder = self._recorder
        if recorder is not None:
            recorder.add_cue(start, end, speaker, text)

    def _start_recorder(self, recorder: Recorder) -> None:
        """(under ``_lifecycle``)"""
        if self._recorder is not None:
            raise NavTalkError("a recording is already running; call stop_recording() first")
        recorder.start()  # creates the file: an unwritable path fails here
        with self._lock:
            self._recorder = recorder

    def stop_recording(self, timeout: float) -> RecordingSummary | None:
        """Finish the file; None when nothing was being recorded.

        On ``NavTalkTimeout`` the recorder stays attached, so calling again waits once more.
        """
        with self._lock:
            recorder = self._recorder
        if recorder is None:
            return None
        try:
            summary = recorder.close(timeout)
        except NavTalkTimeout:
            raise
        except BaseException:
            self._detach(recorder)
            raise
        self._detach(recorder)
        return summary

    def finish_recording(self, timeout: float) -> None:
        """The first step of closing: no recording may start any more, and the one running is
        finished within ``timeout`` (a failure is logged, not raised)."""
        with self._lifecycle:
            self._closed = True
        try:
            self.stop_recording(timeout)
        except NavTalkError as exc:
            log.warning("the recording did not finish cleanly: %s", exc)

    def _detach(self, recorder: Recorder) -> None:
        with self._lock:
            if self._recorder is recorder:
                self._recorder = None

    # ------------------------------------------------------------------ user callbacks

    def _network(self, answerer: Answerer | None) -> dict[str, Any]:
        """The peer's network figures (``Answerer.network``), read on the loop; empty before
        a peer exists, and when the loop does not answer within ``NETWORK_STATS_WAIT``."""
        if answerer is None or self._loop.in_loop():
            return {}
        try:
            return self._loop.run(answerer.network(), NETWORK_STATS_WAIT, "network figures")
        except Exception:  # figures read from aiortc's and aioice's insides: never fatal
            log.debug("network figures unavailable", exc_info=True)
            return {}

    def _callback_failed(self, fn: Callable[..., object], exc: BaseException) -> None:
        name = getattr(fn, "__qualname__", repr(fn))
        self._publish(CallbackFailure(callback=name, error=exc))

    # ------------------------------------------------------------------ closing

    def close(self, deadline: Deadline) -> None:
        """Finish the recording, close the peer connection, stop every media thread, before
        ``deadline``. Called again, it finishes what the first call left running."""
        self.finish_recording(deadline.remaining(0.5))
        if self._loop.running:
            try:
                self._loop.run(
                    self._close_peer(deadline.remaining(0.6)),
                    deadline.remaining(0.7),
                    "closing the peer",
                )
            except NavTalkError as exc:
                log.warning("closing the peer connection: %s", exc)
        self._loop.stop(deadline.remaining(0.5))
        self.video.stop(deadline.remaining(0.3))
        self.voice.stop(deadline.remaining(0.3))
        if self._speaker is not None:
            self._speaker.close(deadline.remaining())
        self._set_state(MediaState.CLOSED)

    async def _close_peer(self, timeout: float) -> None:
        # on the loop, so an answer being made right now is seen (it set _answerer first)
        answerer = self._answerer
        if answerer is not None:
            await answerer.close(timeout)

    def stats(self) -> dict[str, Any]:
        answerer = self._answerer
        recorder = self._recorder
        return {
            "media_state": self._state.value,
            "ice_state": answerer.ice_state if answerer else None,
            "media_network": self._network(answerer),
            "offers_ignored": self.offers_ignored,
            **self.video.stats(),
            **self.voice.stats(),
            **({"speaker": self._speaker.stats()} if self._speaker else {}),
            **({"recording": recorder.stats()} if recorder else {}),
        }


def _why_no_relay(answerer: Answerer) -> str | None:
    """``Answerer.why_no_relay``, which reads aioice's insides: on the failure path it must
    never keep the media from being marked failed."""
    try:
        return answerer.why_no_relay()
    except Exception:
        log.debug("why_no_relay failed", exc_info=True)
        return None

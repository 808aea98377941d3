"""What one session's avatar sends over WebRTC: its voice and its face, sharing one speech.

``AvatarTracks`` owns a queue of utterances and two aiortc tracks that aiortc pulls from in
real time. ``VoiceTrack`` plays the utterances as 20 ms frames (silence when there is none);
every frame's loudness, smoothed, is what ``FaceTrack`` reads when it draws the next picture, so
the mouth opens with the sound that is going out at that moment.

Everything here lives on the server's event loop (aiortc is not thread-safe). Both tracks are
paced by the loop clock like aiortc's own ``AudioStreamTrack``; the face keeps its own frame
rate (aiortc's ``VideoStreamTrack`` is fixed at 30 fps) and skips frames it is too late for,
while the voice never skips (a gap in sound is worse than a late frame).

Speech queued before the client's media connects waits and plays once it does (aiortc pulls
frames only from then on). The queue is bounded by ``MAX_QUEUED_SECONDS`` of speech, because a
client may never connect its media: when a new utterance would exceed it, the oldest queued
utterances are dropped (stale speech first) and counted in ``utterances_dropped``.
"""

from __future__ import annotations

import asyncio
import collections
import fractions

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from ..logs import get_logger
from .face import draw_face
from .samples import as_pcm16, resample

__all__ = [
    "AvatarTracks",
    "VoiceTrack",
    "FaceTrack",
    "SAMPLE_RATE",
    "FRAME_SAMPLES",
    "MAX_QUEUED_SECONDS",
]

log = get_logger(__name__)

#: The voice track's rate (Opus's native rate).
SAMPLE_RATE = 48000
#: Samples per 20 ms audio frame.
FRAME_SAMPLES = SAMPLE_RATE // 50
#: The most speech the queue holds; beyond it the oldest utterances are dropped.
MAX_QUEUED_SECONDS = 30.0
_VIDEO_CLOCK = 90000

# Loudness -> mouth: the smoothed RMS (fraction of full scale) that opens the mouth fully,
# and the level under which it stays shut (so codec noise never moves it).
_FULLY_OPEN_LEVEL = 0.14
_SHUT_LEVEL = 0.01
# Smoothing per 20 ms frame: the mouth opens quickly and closes a little more slowly.
_RISE, _FALL = 0.6, 0.3
# Blinks: one of _BLINK_LENGTH seconds every _BLINK_EVERY seconds.
_BLINK_EVERY, _BLINK_LENGTH = 4.3, 0.15


class _Pacer:
    """Real-time ticks from the loop clock: tick ``n`` is due ``n * period`` after the first."""

    def __init__(self, period: float, skip_late: bool) -> None:
        self._period = period
        self._skip_late = skip_late
        self._start: float | None = None
        self._index = 0

    async def tick(self) -> int:
        """Wait for the next tick; returns its index (indices skipped when late, if asked)."""
        now = asyncio.get_running_loop().time()
        if self._start is None:
            self._start = now
            return 0
        self._index += 1
        due = self._start + self._index * self._period
        if self._skip_late and now - due >= self._period:
            self._index = int((now - self._start) / self._period)
            due = self._start + self._index * self._period
        if due > now:
            await asyncio.sleep(due - now)
        return self._index


class AvatarTracks:
    """One session's speech queue and its two outgoing tracks (``voice_track``, ``face_track``).

    ``speak()`` queues an utterance, ``interrupt()`` drops what is queued or playing, ``stop()``
    makes both tracks go silent for good without ending them (no more RTP, ICE stays up).
    """

    def __init__(self, video_size: tuple[int, int] = (512, 512), fps: float = 25) -> None:
        self.video_size = video_size
        self.fps = fps
        self.frames_sent = 0
        self.audio_frames_sent = 0
        self.utterances_dropped = 0
        self._queue: collections.deque[np.ndarray] = collections.deque()
        self._queued_samples = 0
        self._playing: np.ndarray | None = None
        self._position = 0
        self._level = 0.0
        self._stopped = False
        self.voice_track = VoiceTrack(self)
        self.face_track = FaceTrack(self)

    # ----------------------------------------------------------------- speech

    def speak(self, samples: np.ndarray, rate: int) -> None:
        """Queue an utterance: mono int16 ``samples`` at ``rate`` Hz (resampled if needed)."""
        samples = resample(as_pcm16(samples), rate, SAMPLE_RATE)
        if self._stopped or samples.size == 0:
            return
        self._queue.append(samples)
        self._queued_samples += samples.size
        limit = MAX_QUEUED_SECONDS * SAMPLE_RATE
        while self._queued_samples > limit and len(self._queue) > 1:
            dropped = self._queue.popleft()
            self._queued_samples -= dropped.size
            self.utterances_dropped += 1
            seconds = dropped.size / SAMPLE_RATE
            log.debug("speech queue full: dropped an utterance of %.1f s", seconds)

    def interrupt(self) -> None:
        """Drop what is queued and what is playing (barge-in)."""
        self._queue.clear()
        self._queued_samples = 0
        self._playing = None

    def stop(self) -> None:
        """Both tracks go silent forever but stay live: no more frames, no more RTP."""
        self.interrupt()
        self._stopped = True

    @property
    def speaking(self) -> bool:
        """True while an utterance is playing or waiting to play."""
        return self._playing is not None or bool(self._queue)

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def mouth_open(self) -> float:
        """How open the mouth is now (0..1), from the smoothed loudness of the voice."""
        level = (self._level - _SHUT_LEVEL) / (_FULLY_OPEN_LEVEL - _SHUT_LEVEL)
        return min(1.0, max(0.0, level))

    def _next_samples(self) -> np.ndarray:
        """The next 20 ms of the voice (silence when nothing is queued); updates the level."""
        out = np.zeros(FRAME_SAMPLES, np.int16)
        filled = 0
        while filled < FRAME_SAMPLES:
            if self._playing is None:
                if not self._queue:
                    break
                self._playing = self._queue.popleft()
                self._queued_samples -= self._playing.size
                self._position = 0
            piece = self._playing[self._position : self._position + FRAME_SAMPLES - filled]
            out[filled : filled + piece.size] = piece
            filled += piece.size
            self._position += piece.size
            if self._position >= self._playing.size:
                self._playing = None
        rms = float(np.sqrt(np.mean(np.square(out, dtype=np.float64)))) / 32768
        self._level += (_RISE if rms > self._level else _FALL) * (rms - self._level)
        return out

    async def _halt_if_stopped(self) -> None:
        """After ``stop()``: wait forever (until aiortc cancels the read at close)."""
        if self._stopped:
            await asyncio.get_running_loop().create_future()


class VoiceTrack(MediaStreamTrack):
    """The avatar's voice: 20 ms s16 mono 48 kHz frames, paced in real time."""

    kind = "audio"

    def __init__(self, media: AvatarTracks) -> None:
        super().__init__()
        self._media = media
        self._pacer = _Pacer(FRAME_SAMPLES / SAMPLE_RATE, skip_late=False)
        self._time_base = fractions.Fraction(1, SAMPLE_RATE)

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self._media._halt_if_stopped()
        index = await self._pacer.tick()
        await self._media._halt_if_stopped()
        samples = self._media._next_samples()
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = index * FRAME_SAMPLES
        frame.time_base = self._time_base
        self._media.audio_frames_sent += 1
        return frame


class FaceTrack(MediaStreamTrack):
    """The avatar's face at the media's size and frame rate; the mouth follows the voice."""

    kind = "video"

    def __init__(self, media: AvatarTracks) -> None:
        super().__init__()
        self._media = media
        self._pacer = _Pacer(1 / media.fps, skip_late=True)
        self._time_base = fractions.Fraction(1, _VIDEO_CLOCK)

    async def recv(self) -> av.VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        await self._media._halt_if_stopped()
        index = await self._pacer.tick()
        await self._media._halt_if_stopped()
        seconds = index / self._media.fps
        blink = seconds % _BLINK_EVERY > _BLINK_EVERY - _BLINK_LENGTH
        width, height = self._media.video_size
        picture = draw_face(width, height, self._media.mouth_open, blink)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts = round(seconds * _VIDEO_CLOCK)
        frame.time_base = self._time_base
        self._media.frames_sent += 1
        return frame

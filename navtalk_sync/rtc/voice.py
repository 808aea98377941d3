"""The avatar's voice from the WebRTC audio track, for ``on_avatar_audio`` callbacks.

The rtc loop converts each decoded frame to PCM and queues it; the ``navtalk-avatar-audio``
thread calls the callbacks in order. The queue holds ``queue_seconds`` of audio; if the
callbacks fall that far behind, the oldest chunks are dropped, counted
(``avatar_audio_dropped``) and logged once, so a stuck callback costs bounded memory and
never holds up the picture or the events.
"""

from __future__ import annotations

import collections
import time

import attrs
import av
import numpy as np

from ..logs import get_logger
from .feed import CallbackThread

__all__ = ["AvatarAudio", "SpeakingDetector", "VoiceFeed", "frame_to_pcm"]

log = get_logger(__name__)


@attrs.frozen(repr=False)
class AvatarAudio:
    """A chunk of the avatar's voice as received (typically 20 ms).

    - ``pcm``: int16 array shaped ``(samples, channels)``: 48 kHz stereo from the Opus
      decoder (both channels carry the same voice).
    - ``sample_rate``, ``channels``: the layout of ``pcm``.
    - ``received_at``: ``time.monotonic()`` when it was decoded.
    """

    pcm: np.ndarray
    sample_rate: int
    received_at: float

    @property
    def channels(self) -> int:
        return int(self.pcm.shape[1])

    @property
    def duration(self) -> float:
        return float(self.pcm.shape[0] / self.sample_rate)

    def mono(self) -> np.ndarray:
        """The chunk as one int16 channel (the mean of the channels)."""
        if self.channels == 1:
            return np.asarray(self.pcm[:, 0])
        return np.asarray(self.pcm.mean(axis=1).astype(np.int16))

    def __repr__(self) -> str:
        return f"<AvatarAudio {self.pcm.shape[0]} samples x{self.channels} @ {self.sample_rate} Hz>"


def frame_to_pcm(frame: av.AudioFrame) -> np.ndarray:
    """An ``av.AudioFrame`` as an int16 ``(samples, channels)`` array."""
    data = frame.to_ndarray()
    channels = frame.layout.nb_channels
    data = data.T if frame.format.is_planar else data.reshape(-1, channels)
    if data.dtype != np.int16:
        scale = 32767.0 if data.dtype.kind == "f" else 1.0
        data = np.clip(data * scale, -32768, 32767).astype(np.int16)
    return np.ascontiguousarray(data)


class VoiceFeed(CallbackThread[AvatarAudio, AvatarAudio]):
    """The bounded chunk queue and the ``navtalk-avatar-audio`` thread."""

    def __init__(self, queue_seconds: float = 5.0, thread_name: str = "navtalk-avatar-audio"):
        super().__init__(thread_name)
        self._queue_seconds = queue_seconds
        self._queue: collections.deque[AvatarAudio] = collections.deque()
        self._queued_seconds = 0.0
        self.received = 0
        self.dropped = 0
        self._warned = False

    def push(self, chunk: AvatarAudio) -> None:
        """From the rtc loop; never blocks. Queued only while callbacks are registered."""
        with self._cond:
            self.received += 1
            if not self._callbacks:
                return
            self._queue.append(chunk)
            self._queued_seconds += chunk.duration
            while self._queued_seconds > self._queue_seconds and len(self._queue) > 1:
                self._queued_seconds -= self._queue.popleft().duration
                self.dropped += 1
                if not self._warned:
                    self._warned = True
                    log.warning(
                        "on_avatar_audio callbacks are %.1f s behind; dropping the oldest audio",
                        self._queue_seconds,
                    )
            self._cond.notify_all()

    def _ready(self) -> bool:
        return bool(self._queue)

    def _take(self) -> AvatarAudio:
        chunk = self._queue.popleft()
        self._queued_seconds = max(0.0, self._queued_seconds - chunk.duration)
        return chunk

    def stats(self) -> dict[str, object]:
        with self._cond:
            return {
                "avatar_audio_received": self.received,
                "avatar_audio_dropped": self.dropped,
                "avatar_audio_queued_seconds": round(self._queued_seconds, 3),
            }


def chunk_from_frame(frame: av.AudioFrame) -> AvatarAudio:
    """The ``AvatarAudio`` for one decoded frame."""
    return AvatarAudio(frame_to_pcm(frame), int(frame.sample_rate), time.monotonic())


class SpeakingDetector:
    """Whether the avatar is speaking, from the level of its received voice.

    Speaking starts with the first chunk whose RMS is above ``threshold`` and ends after
    ``hangover`` seconds below it (the gaps between words must not count as the end). Pure:
    feed it chunks, it says when the answer changes.
    """

    def __init__(self, threshold: float = 300.0, hangover: float = 0.5) -> None:
        self.threshold = threshold
        self.hangover = hangover
        self.speaking = False
        self._quiet_for = 0.0

    @property
    def quiet_for(self) -> float:
        """Seconds of the voice below the threshold since it was last loud."""
        return self._quiet_for

    def feed(self, chunk: AvatarAudio) -> bool | None:
        """The new state when this chunk changes it, else None."""
        samples = chunk.pcm.astype(np.float32)
        level = float(np.sqrt(np.mean(samples * samples))) if samples.size else 0.0
        if level > self.threshold:
            self._quiet_for = 0.0
            if not self.speaking:
                self.speaking = True
                return True
            return None
        self._quiet_for += chunk.duration
        if self.speaking and self._quiet_for >= self.hangover:
            self.speaking = False
            return False
        return None

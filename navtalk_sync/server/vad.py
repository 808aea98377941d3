"""Where the user starts and stops speaking: a small energy voice-activity detector.

Pure, no I/O: ``EnergyVad.feed()`` takes PCM16 mono samples in any piece sizes and returns the
``VadEvent``s they complete. The audio is cut into 20 ms frames; a frame is loud when its RMS is
above the threshold, which is the larger of a fixed floor (``min_level``, about -40 dBFS) and
``noise_ratio`` times the background level: the quietest frame of the last ``noise_window_ms``
(5 s). Speech always has quieter moments within a few seconds, a steady hiss or hum does not,
so the hum sets the background and never counts as speech, even from the very first frame.
The price: sound without any quieter moment for longer than the window stops counting.

Hangover both ways: speech starts after ``start_ms`` of consecutive loud frames (a click is not
speech) and stops after ``stop_ms`` of consecutive quiet frames (the pauses between words are
not the end). Each event's ``sample`` is where the speech began or ended (the first loud frame,
the end of the last loud frame), counted from the first sample fed; it is reported once the
hangover has confirmed it.
"""

from __future__ import annotations

import collections

import attrs
import numpy as np

__all__ = ["EnergyVad", "VadEvent", "SPEECH_STARTED", "SPEECH_STOPPED"]

SPEECH_STARTED = "started"
SPEECH_STOPPED = "stopped"


@attrs.frozen
class VadEvent:
    """Speech ``started`` or ``stopped`` at ``sample`` (counted from the first sample fed)."""

    kind: str
    sample: int


class EnergyVad:
    """Energy VAD over PCM16 mono at ``sample_rate`` (see the module docstring)."""

    def __init__(
        self,
        sample_rate: int = 24000,
        frame_ms: int = 20,
        start_ms: int = 120,
        stop_ms: int = 600,
        min_level: float = 0.01,
        noise_ratio: float = 4.0,
        noise_window_ms: int = 5000,
    ) -> None:
        if sample_rate <= 0 or frame_ms <= 0:
            raise ValueError("sample_rate and frame_ms must be positive")
        if start_ms < frame_ms or stop_ms < frame_ms:
            raise ValueError("start_ms and stop_ms must be at least one frame (frame_ms)")
        if not 0 < min_level < 1 or noise_ratio < 1:
            raise ValueError("min_level must be between 0 and 1, noise_ratio at least 1")
        if noise_window_ms < start_ms:
            raise ValueError("noise_window_ms must be at least start_ms")
        self.sample_rate = sample_rate
        self.frame_samples = sample_rate * frame_ms // 1000
        self._start_frames = -(-start_ms // frame_ms)  # ceiling division
        self._stop_frames = -(-stop_ms // frame_ms)
        self._min_level = min_level * 32768
        self._noise_ratio = noise_ratio
        self._levels: collections.deque[float] = collections.deque(
            maxlen=-(-noise_window_ms // frame_ms)
        )
        self._pending = np.zeros(0, np.int16)
        self._next_frame = 0  # index of the next whole frame
        self._speaking = False
        self._run = 0  # consecutive frames on the other side of the current state
        self._run_start = 0  # first frame of that run

    @property
    def speaking(self) -> bool:
        """True between a ``started`` and its ``stopped``."""
        return self._speaking

    @property
    def threshold(self) -> float:
        """The RMS (in PCM16 units) above which a frame counts as loud, as of now."""
        background = min(self._levels) if self._levels else 0.0
        return max(self._min_level, background * self._noise_ratio)

    def feed(self, samples: np.ndarray) -> list[VadEvent]:
        """Take the next samples (1-D int16); the events they confirm, in order."""
        if samples.dtype != np.int16 or samples.ndim != 1:
            raise ValueError("the VAD takes 1-D int16 (PCM16 mono) samples")
        audio = np.concatenate([self._pending, samples]) if self._pending.size else samples
        whole = audio.size // self.frame_samples
        self._pending = audio[whole * self.frame_samples :].copy()
        frames = audio[: whole * self.frame_samples].reshape(whole, self.frame_samples)
        rms = np.sqrt(np.mean(np.square(frames, dtype=np.float64), axis=1))
        events: list[VadEvent] = []
        for level in rms:
            event = self._step(float(level))
            if event is not None:
                events.append(event)
            self._next_frame += 1
        return events

    def _step(self, level: float) -> VadEvent | None:
        self._levels.append(level)
        loud = level > self.threshold
        if loud != self._speaking:  # the state would change if this lasts
            if self._run == 0:
                self._run_start = self._next_frame
            self._run += 1
        else:
            self._run = 0
        needed = self._stop_frames if self._speaking else self._start_frames
        if self._run < needed:
            return None
        self._speaking = not self._speaking
        self._run = 0
        kind = SPEECH_STARTED if self._speaking else SPEECH_STOPPED
        return VadEvent(kind, self._run_start * self.frame_samples)

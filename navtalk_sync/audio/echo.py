"""Echo cancellation: the avatar's voice taken out of what the microphone hears.

With loudspeakers, the avatar's voice reaches the microphone; sent up, the server hears it as
the user, interrupts the avatar and answers its own words. Every official NavTalk client runs
its microphone through an echo canceller for this (browsers, iOS's VoiceProcessingIO, Android's
platform AEC). This is ours: the WebRTC audio-processing module (AEC3, with optional noise
suppression and automatic gain), as packaged by ``livekit`` (the ``[aec]`` extra). It was
chosen over the other modules on PyPI by ``bench/echo.py``: the most cancellation at the least
CPU, with wheels for Linux, macOS and Windows.

Two streams meet here, in 10 ms frames, as the module takes them:

- the reference (what the loudspeaker plays): ``played()``, called where the speaker thread
  writes to the sound card, silence between replies included, so it is in step with what is
  heard; or by the application that plays the avatar's voice itself;
- the capture: ``capture()``, on the microphone thread, which returns the microphone's audio
  with the echo taken out.

The module finds the echo's delay itself; it is also told the delay the devices report (the
output's latency plus the input's), as a starting point. ``stats()`` reports the echo return
loss enhancement it achieves: the capture's power over its output's, while the avatar speaks.

The module is made, and ``livekit`` imported, on the first ``start()``: a client whose
microphone never runs pays nothing.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ConfigError, InvalidArgument
from ..logs import get_logger
from .pcm import UPLINK_RATE, mono_int16

if TYPE_CHECKING:
    from livekit import rtc

__all__ = ["EchoCanceller", "INSTALL_HINT", "echo_canceller_missing"]

log = get_logger(__name__)

#: How to get the canceller.
INSTALL_HINT = "pip install 'navtalk-sync[aec]'"
#: The module's unit of work.
FRAME_SECONDS = 0.01
#: The reference counts as playing while a frame this loud was played in the last
#: ``ECHO_MEMORY`` frames (about -50 dBFS: quieter than any voice, louder than dither).
REFERENCE_ACTIVE_RMS = 100.0
ECHO_MEMORY = 30  # 300 ms: the room's echo outlasts the sound that caused it
#: Capture frames quieter than this say nothing about the echo (a muted or silent microphone).
CAPTURE_FLOOR_RMS = 10.0
#: The echo return loss enhancement is averaged over about this many frames of the avatar's
#: voice (an exponential average over about a second, so it follows the canceller as it
#: converges).
ERLE_FRAMES = 100


def echo_canceller_missing() -> str | None:
    """Why the canceller cannot run here (its extra is not installed), or None."""
    if importlib.util.find_spec("livekit") is None:
        return f"the echo canceller is not installed ({INSTALL_HINT})"
    try:
        found = importlib.util.find_spec("livekit.rtc")
    except ImportError:
        found = None
    if found is None:
        return f"the installed livekit package has no rtc module ({INSTALL_HINT})"
    return None


class EchoCanceller:
    """One conversation's echo canceller: the reference in, the microphone's audio cleaned.

    ``played()`` runs on whichever thread plays the avatar's voice, ``capture()`` on the
    microphone's; a lock keeps the module's two sides apart. Until ``start()`` (and after
    ``stop()``) both pass audio through untouched and keep nothing.
    """

    def __init__(
        self, *, noise_suppression: bool = False, auto_gain: bool = False, required: bool = False
    ) -> None:
        self.noise_suppression = noise_suppression
        self.auto_gain = auto_gain
        self._required = required  # echo_cancellation=True: a canceller that cannot run raises
        self.unavailable: str | None = None  # why it could not be made (then audio passes)
        self._errors = 0
        self._lock = threading.Lock()
        self._module: rtc.AudioProcessingModule | None = None
        self._running = False
        self._reference = _Framer()  # the player's thread only
        self._capture = _Framer()  # the microphone's thread only
        self._latencies = {"output": 0.0, "input": 0.0}
        self._echo_left = 0  # capture frames the last loud reference frame still echoes in
        self._erle = _ErleMeter()
        self._played_frames = 0
        self._processed_frames = 0

    def __repr__(self) -> str:
        return f"<EchoCanceller {'running' if self._running else 'stopped'}>"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Make the module (first time) and cancel from now on. When it cannot be made (the
        extra missing, or its native library failing to load) audio passes through untouched
        and ``unavailable`` says why; with ``required`` that raises ``ConfigError``."""
        with self._lock:
            if self._module is None and self.unavailable is None:
                try:
                    self._module = _make_module(self.noise_suppression, self.auto_gain)
                except Exception as exc:
                    self.unavailable = f"the echo canceller could not start: {exc}"
                    if self._required:
                        raise ConfigError(self.unavailable) from exc
                    log.warning("%s; the microphone goes up as it is", self.unavailable)
                    return
                self._apply_delay()
            self._running = self._module is not None

    def stop(self) -> None:
        """Pass audio through untouched (the microphone stopped); ``start()`` resumes."""
        with self._lock:
            self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def set_latency(self, side: str, seconds: float) -> None:
        """What a device reports as its latency (``side``: "output" or "input"); their sum is
        the delay the module starts from."""
        if side not in self._latencies:
            raise ValueError(f"side is 'output' or 'input', not {side!r}")
        with self._lock:
            self._latencies[side] = max(0.0, float(seconds)) if math.isfinite(seconds) else 0.0
            self._apply_delay()

    @property
    def delay_ms(self) -> float:
        return round(sum(self._latencies.values()) * 1000, 1)

    def _apply_delay(self) -> None:
        if self._module is not None:
            self._module.set_stream_delay_ms(min(500, round(self.delay_ms)))

    # -- the two streams ---------------------------------------------------------------------

    def played(self, pcm: np.ndarray, sample_rate: int) -> None:
        """``pcm`` (int16, shaped (n,) or (n, channels)) went to the loudspeaker just now.
        Raises ``InvalidArgument`` for anything else; never for the module's own failures
        (counted in ``stats()["errors"]``, the first one logged)."""
        mono = _mono(pcm)
        if not self._running:
            return
        for frame in self._reference.push(mono, sample_rate):
            loud = _rms(frame) >= REFERENCE_ACTIVE_RMS
            with self._lock:
                if self._module is None or not self._running:
                    return
                try:
                    self._module.process_reverse_stream(_frame(frame, sample_rate))
                except Exception:
                    self._failed("its reference")
                    return
                self._played_frames += 1
                if loud:
                    self._echo_left = ECHO_MEMORY

    def _failed(self, what: str) -> None:
        """(under the lock) The module failed on a frame: counted, the first one logged."""
        self._errors += 1
        if self._errors == 1:
            log.exception("the echo canceller failed on %s; the audio goes on", what)

    def capture(self, pcm: np.ndarray) -> np.ndarray:
        """The microphone's 24 kHz mono int16 ``pcm`` with the echo taken out. Whole 10 ms
        frames come out; a remainder waits for the next call (at most 10 ms)."""
        if not self._running:
            return pcm
        cleaned = []
        for frame in self._capture.push(pcm, UPLINK_RATE):
            with self._lock:
                module = self._module
                if module is None or not self._running:
                    return pcm
                data = _frame(frame, UPLINK_RATE)
                try:
                    module.process_stream(data)
                    out = np.frombuffer(data.data, np.int16).copy()
                except Exception:
                    self._failed("the microphone's audio")
                    out = frame.copy()
                self._processed_frames += 1
                if self._echo_left > 0:
                    self._echo_left -= 1
                    self._erle.add(frame, out)
            cleaned.append(out)
        return np.concatenate(cleaned) if cleaned else pcm[:0]

    # -- observation -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """``on``, ``erle_db`` (the echo return loss enhancement while the avatar's voice
        played, about the last second of it; None before any), ``delay_ms`` (the devices'
        latencies it starts from), ``reference_ms`` and ``processed_ms``, ``errors`` (frames
        the module failed on: passed through untouched)."""
        return {
            "on": self._running,
            "erle_db": self._erle.db(),
            "delay_ms": self.delay_ms,
            "noise_suppression": self.noise_suppression,
            "auto_gain": self.auto_gain,
            "reference_ms": round(self._played_frames * FRAME_SECONDS * 1000),
            "processed_ms": round(self._processed_frames * FRAME_SECONDS * 1000),
            "errors": self._errors,
        }


def _make_module(noise_suppression: bool, auto_gain: bool) -> rtc.AudioProcessingModule:
    missing = echo_canceller_missing()
    if missing:
        raise ConfigError(f"echo cancellation is on but {missing}")
    from livekit import rtc

    log.debug("echo canceller: livekit %s", getattr(rtc, "__version__", "?"))
    return rtc.AudioProcessingModule(
        echo_cancellation=True,
        noise_suppression=noise_suppression,
        high_pass_filter=True,  # rumble carries no speech and unsettles the canceller
        auto_gain_control=auto_gain,
    )


def _frame(samples: np.ndarray, sample_rate: int) -> rtc.AudioFrame:
    from livekit import rtc

    return rtc.AudioFrame(samples.tobytes(), sample_rate, 1, len(samples))


#: The most channels a played block may have (7.1).
MAX_CHANNELS = 8


def _mono(pcm: np.ndarray) -> np.ndarray:
    if (
        not isinstance(pcm, np.ndarray)
        or pcm.dtype != np.int16
        or pcm.ndim not in (1, 2)
        or (pcm.ndim == 2 and not 1 <= pcm.shape[1] <= MAX_CHANNELS)
    ):
        shape = getattr(pcm, "shape", type(pcm).__name__)
        raise InvalidArgument(
            f"the played audio is an int16 array shaped (n,) or (n, channels) with at most "
            f"{MAX_CHANNELS} channels, not {shape}"
        )
    return pcm if pcm.ndim == 1 else mono_int16(pcm)


def _rms(samples: np.ndarray) -> float:
    values = samples.astype(np.float32)
    return float(np.sqrt(np.mean(values * values))) if values.size else 0.0


class _Framer:
    """Cuts a stream into 10 ms frames, keeping the remainder for the next push; a change of
    rate starts afresh (what was kept is dropped: less than 10 ms)."""

    def __init__(self) -> None:
        self._rate = 0
        self._kept = np.zeros(0, np.int16)

    def push(self, samples: np.ndarray, rate: int) -> list[np.ndarray]:
        if rate != self._rate:
            if rate % 100:
                raise InvalidArgument(f"the sample rate must be a multiple of 100 Hz, not {rate}")
            self._rate, self._kept = rate, self._kept[:0]
        size = rate // 100
        data = np.concatenate([self._kept, samples]) if len(self._kept) else samples
        whole = len(data) // size * size
        self._kept = data[whole:].copy()
        return [data[start : start + size] for start in range(0, whole, size)]


class _ErleMeter:
    """Echo return loss enhancement: the capture's power over the output's, averaged
    exponentially over the frames in which the avatar's voice can be heard."""

    def __init__(self) -> None:
        self._weight = 1.0 / ERLE_FRAMES
        self._before = self._after = 0.0
        self._frames = 0

    def add(self, before: np.ndarray, after: np.ndarray) -> None:
        power_before = _rms(before) ** 2
        if power_before < CAPTURE_FLOOR_RMS**2:
            return
        power_after = _rms(after) ** 2
        self._frames += 1
        weight = max(self._weight, 1.0 / self._frames)  # a plain mean until it is full
        self._before += weight * (power_before - self._before)
        self._after += weight * (power_after - self._after)

    def db(self) -> float | None:
        if not self._frames:
            return None
        return round(10 * math.log10(self._before / max(self._after, 1e-3)), 1)

"""The avatar's voice to a PyAudio output device, on its own ``navtalk-speaker`` thread.

``play()`` (any thread, never blocks) appends 16-bit PCM to a bounded queue; the speaker thread
takes it out in 10 ms blocks, converts it to what the device accepts and writes it with
PyAudio's blocking ``write``. Between replies, and whenever audio arrives late, it writes
silence instead, so the device keeps running and never clicks; after such a dry spell it waits
for ``prebuffer_ms`` of audio (or for the first of it to have waited that long) before playing
again, which absorbs the jitter of audio arriving in 20 ms network packets. ``flush()`` drops
what is queued: the user spoke over the avatar (barge-in).

Pacing. A sound card takes audio at its own rate, so a blocking write paces the thread. Virtual
devices (ALSA ``file`` and ``null`` PCMs) take any amount at once; there, the silence between
replies would be written as fast as the CPU allows. So the thread also paces itself to the wall
clock: it never runs further ahead of real time than the device's latency plus
``LEAD_SECONDS``, with a 0.1 % allowance so that a card whose clock runs fast is not held back.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import InvalidArgument
from ..logs import get_logger
from .device_thread import DeviceThread
from .devices import DeviceSpec
from .jitter import Pacer, PlaybackQueue
from .output import BLOCK_SECONDS, DeviceOutput

__all__ = ["PCM", "Speaker"]

log = get_logger(__name__)

#: What ``Speaker.play()`` accepts.
PCM = bytes | bytearray | memoryview | np.ndarray
#: Told of every block handed to the device: ``reference(frames, sample_rate)``.
Reference = Callable[[np.ndarray, int], None]

#: How far ahead of the wall clock the thread may write, beyond the device's own latency.
LEAD_SECONDS = 0.05


class Speaker(DeviceThread[DeviceOutput]):
    """Plays 16-bit PCM to an output device through a bounded jitter queue.

    ``device``: None/True for the default output device, an index, or (part of) a device name
    (see ``list_audio_devices()``). ``sample_rate`` and ``channels`` (1 or 2) describe the PCM
    that ``play()`` will be given. ``queue_seconds`` bounds the queue; ``prebuffer_ms`` is the
    jitter buffer (how much audio to gather before playing after a dry spell). ``reference``,
    when given, is called on the speaker thread with every block written to the device (int16
    ``(frames, channels)`` at ``sample_rate``, the silence between replies included): the echo
    canceller's view of what the loudspeaker plays. It must return at once; if it raises, it is
    logged and not called again.

    The device is opened at ``sample_rate`` with ``channels`` when it accepts them, otherwise
    at a rate and channel count it does accept; ``device_rate`` / ``device_channels`` force a
    choice. Other rates are converted with PyAV's resampler; mono is duplicated to both
    channels (full level, as ALSA and browsers do) and stereo is averaged down to mono.

    Use it as a context manager, or call ``start()`` and ``close()``.
    """

    def __init__(
        self,
        device: DeviceSpec = None,
        *,
        sample_rate: int = 48000,
        channels: int = 1,
        queue_seconds: float = 2.0,
        prebuffer_ms: float = 60,
        device_rate: int | None = None,
        device_channels: int | None = None,
        reference: Reference | None = None,
    ) -> None:
        _check_device_spec(device)
        _check_rate("sample_rate", sample_rate)
        _check_channels("channels", channels)
        if device_rate is not None:
            _check_rate("device_rate", device_rate)
        if device_channels is not None:
            _check_channels("device_channels", device_channels)
        if not 0 < queue_seconds <= 600:
            raise InvalidArgument(f"queue_seconds must be in (0, 600], not {queue_seconds!r}")
        if not 0 <= prebuffer_ms <= queue_seconds * 1000:
            raise InvalidArgument(
                f"prebuffer_ms must be between 0 and queue_seconds * 1000 "
                f"({queue_seconds * 1000:g}), not {prebuffer_ms!r}"
            )
        self.device = device
        self.sample_rate = sample_rate
        self.channels = channels
        self._device_rate = device_rate
        self._device_channels = device_channels
        self._queue = PlaybackQueue(
            capacity=round(queue_seconds * sample_rate),
            prebuffer=round(prebuffer_ms / 1000 * sample_rate),
            prebuffer_seconds=prebuffer_ms / 1000,
        )
        self._reference = reference
        super().__init__("Speaker", "navtalk-speaker")
        self._error: str | None = None

    def __repr__(self) -> str:
        state = "closed" if self._closed else "playing" if self._thread else "not started"
        return f"<Speaker device={self.device!r} {self.sample_rate} Hz x{self.channels} {state}>"

    def __enter__(self) -> Speaker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Speaker:
        """Open the device and start the ``navtalk-speaker`` thread (a second call does nothing).

        Raises ``InvalidArgument`` when ``device`` names no output device (the message lists
        them), ``AudioDeviceError`` when the device cannot be opened, and ``NavTalkError`` after
        ``close()``. Audio given to ``play()`` before ``start()`` is played once it runs.
        """
        super().start()
        return self

    def _open_device(self) -> DeviceOutput:
        return DeviceOutput.open(
            self.device, self.sample_rate, self.channels, self._device_rate, self._device_channels
        )

    def close(self, timeout: float = 1.0) -> None:
        """Stop playing: drop what is queued, stop the thread, close the device (idempotent).

        What the device already holds (its own short buffer) still plays out.

        Callable from any thread. Waits at most ``timeout`` seconds for the thread; a thread
        stuck in a device that stopped responding is left to finish on its own (it is a
        daemon thread) and closes the device when the write returns.
        """
        super().close(timeout)

    def _closing(self) -> None:
        self._queue.close()  # wakes the thread waiting for audio

    # -- audio in ----------------------------------------------------------------------------

    def play(self, pcm: PCM) -> None:
        """Queue PCM for playback; returns at once (any thread).

        ``pcm``: an int16 numpy array, shaped ``(n,)`` (interleaved when stereo),
        ``(n, channels)``, or ``(1, n * channels)`` (PyAV's packed ``to_ndarray()`` layout), or
        the same samples as little-endian bytes, at ``sample_rate``.

        Overflow policy: the queue holds ``queue_seconds`` of audio; when ``pcm`` does not fit,
        the OLDEST queued audio is dropped to make room, so latency stays bounded and the
        newest speech survives. Dropped audio is counted in ``stats()["dropped_ms"]`` and
        logged at debug level. After ``close()``, ``play()`` does nothing.

        Raises ``InvalidArgument`` for audio of the wrong type, dtype or shape (nothing queued
        is affected).
        """
        frames = _as_frames(pcm, self.channels)
        if not len(frames):
            return
        dropped = self._queue.put(frames)
        if dropped:
            log.debug("speaker queue full: dropped the oldest %.0f ms", self._ms(dropped))

    def flush(self) -> None:
        """Drop everything queued (barge-in); audio already handed to the device still plays."""
        flushed = self._queue.clear()
        log.debug("speaker flushed %.0f ms", self._ms(flushed))

    # -- observation -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters and the device in use.

        ``played_ms`` (handed to the device), ``queued_ms``, ``dropped_ms`` (overflow),
        ``flushed_ms``, ``underruns`` (times the queue ran dry while playing; the end of every
        reply counts, as the speaker cannot tell a finished reply from a late one),
        ``flushes``, ``device`` (name), ``rate`` and ``channels`` (as opened; None before
        ``start()``) and ``error`` (why the thread stopped early, else None).
        """
        counts = self._queue.counts()
        output = self._device
        return {
            "played_ms": self._ms(counts["played"]),
            "queued_ms": self._ms(counts["queued"]),
            "dropped_ms": self._ms(counts["dropped"]),
            "flushed_ms": self._ms(counts["flushed"]),
            "underruns": counts["underruns"],
            "flushes": counts["flushes"],
            "device": output.device.name if output else None,
            "rate": output.rate if output else None,
            "channels": output.channels if output else None,
            "error": self._error,
        }

    def _ms(self, frames: int) -> float:
        return frames * 1000 / self.sample_rate

    @property
    def latency(self) -> float | None:
        """Seconds from a write to the sound, as the device reports it (None before
        ``start()``)."""
        output = self._device
        return output.latency if output else None

    # -- the navtalk-speaker thread ----------------------------------------------------------

    def _run(self, output: DeviceOutput) -> None:
        block = max(1, round(self.sample_rate * BLOCK_SECONDS))
        silence = np.zeros((block, self.channels), np.int16)
        pacer = Pacer(lead=output.latency + LEAD_SECONDS)
        try:
            while not self._stopping.is_set():
                delay = pacer.delay()
                if delay > 0 and self._stopping.wait(delay):
                    break
                frames = self._queue.take(block)
                if frames is None:
                    output.write_silence()
                    self._tell_reference(silence)
                    pacer.wrote(BLOCK_SECONDS)
                else:
                    output.write(frames)
                    self._tell_reference(frames)
                    self._queue.count_played(len(frames))
                    pacer.wrote(len(frames) / self.sample_rate)
        except Exception as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            log.error("speaker stopped: writing to %r failed: %s", output.device.name, exc)
        finally:
            output.close()

    def _tell_reference(self, frames: np.ndarray) -> None:
        reference = self._reference
        if reference is None:
            return
        try:
            reference(frames, self.sample_rate)
        except Exception:
            self._reference = None  # playing matters more than the echo canceller
            log.exception("the speaker's reference raised; it is no longer told what plays")


def _as_frames(pcm: PCM, channels: int) -> np.ndarray:
    """``pcm`` as a fresh int16 array shaped (frames, channels)."""
    if isinstance(pcm, (bytes, bytearray, memoryview)):
        data = bytes(pcm)
        if len(data) % (2 * channels):
            raise InvalidArgument(
                f"PCM bytes must hold whole 16-bit frames of {channels} channel(s) "
                f"({2 * channels} bytes each); got {len(data)} bytes"
            )
        return np.frombuffer(data, dtype="<i2").astype(np.int16).reshape(-1, channels)
    if not isinstance(pcm, np.ndarray):
        raise InvalidArgument(
            f"play() takes an int16 numpy array or bytes, not {type(pcm).__name__}"
        )
    if pcm.dtype != np.int16:
        raise InvalidArgument(f"play() takes int16 samples, not {pcm.dtype}")
    if pcm.ndim == 2 and pcm.shape[1] == channels:
        return np.asarray(pcm.copy())
    if pcm.ndim == 1 or (pcm.ndim == 2 and pcm.shape[0] == 1):
        samples = pcm.reshape(-1)
        if samples.size % channels == 0:
            return np.asarray(samples.reshape(-1, channels).copy())
    raise InvalidArgument(
        f"play() takes samples shaped (n,), (n, {channels}) or (1, n * {channels}) for "
        f"{channels} channel(s), not {pcm.shape}"
    )


def _check_device_spec(device: object) -> None:
    if device is False:
        raise InvalidArgument("device=False names no device; use None or True for the default")
    if device is not None and not isinstance(device, (bool, int, str)):
        raise InvalidArgument(
            f"device must be None, True, an int index or a str name, not {type(device).__name__}"
        )


def _check_rate(name: str, rate: object) -> None:
    if isinstance(rate, bool) or not isinstance(rate, int) or not 1000 <= rate <= 384000:
        raise InvalidArgument(f"{name} must be an int between 1000 and 384000 Hz, not {rate!r}")


def _check_channels(name: str, channels: object) -> None:
    if isinstance(channels, bool) or not isinstance(channels, int) or channels not in (1, 2):
        raise InvalidArgument(f"{name} must be 1 (mono) or 2 (stereo), not {channels!r}")

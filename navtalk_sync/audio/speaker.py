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

import logging
import threading
import time
from collections import deque
from typing import Any

import av
import numpy as np
import pyaudio

from ..errors import InvalidArgument, NavTalkError
from .devices import (
    AudioDevice,
    AudioDeviceError,
    DeviceSpec,
    close_portaudio,
    device_info,
    find_output_device,
    open_portaudio,
    supported_rate,
)

__all__ = ["PCM", "Speaker"]

log = logging.getLogger(__name__)

#: What ``Speaker.play()`` accepts.
PCM = bytes | bytearray | memoryview | np.ndarray

#: The unit the thread writes: small enough that a flush takes effect almost at once.
BLOCK_SECONDS = 0.01

#: How far ahead of the wall clock the thread may write, beyond the device's own latency.
LEAD_SECONDS = 0.05

_LAYOUTS = {1: "mono", 2: "stereo"}


class Speaker:
    """Plays 16-bit PCM to an output device through a bounded jitter queue.

    ``device``: None/True for the default output device, an index, or (part of) a device name
    (see ``list_audio_devices()``). ``sample_rate`` and ``channels`` (1 or 2) describe the PCM
    that ``play()`` will be given. ``queue_seconds`` bounds the queue; ``prebuffer_ms`` is the
    jitter buffer (how much audio to gather before playing after a dry spell).

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
        self._queue = _PlaybackQueue(
            capacity=round(queue_seconds * sample_rate),
            prebuffer=round(prebuffer_ms / 1000 * sample_rate),
            prebuffer_seconds=prebuffer_ms / 1000,
        )
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._starting = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._output: _DeviceOutput | None = None
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
        with self._lock:
            if self._closed:
                raise NavTalkError("this Speaker is closed; create a new one")
            if self._thread is not None or self._starting:
                return self
            self._starting = True
        try:
            output = _DeviceOutput.open(
                self.device,
                self.sample_rate,
                self.channels,
                self._device_rate,
                self._device_channels,
            )
        except BaseException:
            with self._lock:
                self._starting = False
            raise
        with self._lock:
            self._starting = False
            if self._closed:
                output.close()
                raise NavTalkError("the Speaker was closed while it was starting")
            self._output = output
            self._thread = threading.Thread(
                target=self._run, args=(output,), name="navtalk-speaker", daemon=True
            )
            self._thread.start()
        log.debug("speaker started: %s", output.describe())
        return self

    def close(self, timeout: float = 1.0) -> None:
        """Stop playing: drop what is queued, stop the thread, close the device (idempotent).

        What the device already holds (its own short buffer) still plays out.

        Callable from any thread. Waits at most ``timeout`` seconds for the thread; a thread
        stuck in a device that stopped responding is left to finish on its own (it is a
        daemon thread) and closes the device when the write returns.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        self._stopping.set()
        self._queue.close()
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout)
        if thread.is_alive():
            log.warning("the navtalk-speaker thread did not stop within %.1f s", timeout)

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
        output = self._output
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

    # -- the navtalk-speaker thread ----------------------------------------------------------

    def _run(self, output: _DeviceOutput) -> None:
        block = max(1, round(self.sample_rate * BLOCK_SECONDS))
        pacer = _Pacer(lead=output.latency + LEAD_SECONDS)
        try:
            while not self._stopping.is_set():
                delay = pacer.delay()
                if delay > 0 and self._stopping.wait(delay):
                    break
                frames = self._queue.take(block)
                if frames is None:
                    output.write_silence()
                    pacer.wrote(BLOCK_SECONDS)
                else:
                    output.write(frames)
                    self._queue.count_played(len(frames))
                    pacer.wrote(len(frames) / self.sample_rate)
        except Exception as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            log.error("speaker stopped: writing to %r failed: %s", output.device.name, exc)
        finally:
            output.close()


class _PlaybackQueue:
    """Input PCM waiting for the device: bounded, drops the oldest, gated by the prebuffer.

    Every method holds one lock only for a few list operations, so ``put()`` never waits on
    the speaker thread. Counts are in frames at the input rate.
    """

    def __init__(self, capacity: int, prebuffer: int, prebuffer_seconds: float) -> None:
        self._lock = threading.Lock()
        self._chunks: deque[np.ndarray] = deque()
        self._queued = 0
        self._capacity = max(1, capacity)
        self._prebuffer = prebuffer
        self._prebuffer_seconds = prebuffer_seconds
        self._playing = False  # False: gathering the prebuffer after a dry spell
        self._waiting_since: float | None = None
        self._closed = False
        self._played = self._dropped = self._flushed = self._underruns = self._flushes = 0

    def put(self, frames: np.ndarray) -> int:
        """Append ``frames``; returns how many old frames were dropped to make room."""
        with self._lock:
            if self._closed:
                return 0
            self._chunks.append(frames)
            self._queued += len(frames)
            excess = max(0, self._queued - self._capacity)
            self._drop_oldest(excess)
            self._dropped += excess
            return excess

    def _drop_oldest(self, count: int) -> None:
        while count > 0:
            head = self._chunks[0]
            if len(head) <= count:
                self._chunks.popleft()
                taken = len(head)
            else:
                self._chunks[0] = head[count:]
                taken = count
            self._queued -= taken
            count -= taken

    def take(self, max_frames: int) -> np.ndarray | None:
        """Up to ``max_frames`` to play now, or None: nothing queued, or still prebuffering."""
        with self._lock:
            if self._closed:
                return None
            if not self._queued:
                if self._playing:
                    self._playing = False
                    self._underruns += 1
                return None
            if not self._playing and not self._prebuffered():
                return None
            self._playing = True
            return self._pop(max_frames)

    def _prebuffered(self) -> bool:
        now = time.monotonic()
        if self._waiting_since is None:
            self._waiting_since = now
        if self._queued >= self._prebuffer or now - self._waiting_since >= self._prebuffer_seconds:
            self._waiting_since = None
            return True
        return False

    def _pop(self, max_frames: int) -> np.ndarray:
        parts: list[np.ndarray] = []
        wanted = max_frames
        while wanted and self._chunks:
            head = self._chunks[0]
            if len(head) <= wanted:
                parts.append(self._chunks.popleft())
            else:
                parts.append(head[:wanted])
                self._chunks[0] = head[wanted:]
            wanted -= len(parts[-1])
        taken = max_frames - wanted
        self._queued -= taken
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def clear(self) -> int:
        """Drop everything queued (a flush); returns how many frames were dropped."""
        with self._lock:
            flushed = self._queued
            self._chunks.clear()
            self._queued = 0
            # A flush is not an underrun; the next audio gathers a fresh prebuffer.
            self._playing = False
            self._waiting_since = None
            self._flushed += flushed
            self._flushes += 1
            return flushed

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._chunks.clear()
            self._queued = 0

    def count_played(self, frames: int) -> None:
        with self._lock:
            self._played += frames

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                "played": self._played,
                "queued": self._queued,
                "dropped": self._dropped,
                "flushed": self._flushed,
                "underruns": self._underruns,
                "flushes": self._flushes,
            }


class _Pacer:
    """Keeps the writer at most ``lead`` seconds ahead of the wall clock (see module docs)."""

    #: Wall-clock seconds are credited 0.1 % generously: a device clock may run that much fast.
    SLACK = 1.001

    def __init__(self, lead: float) -> None:
        self._lead = lead
        self._ahead = 0.0
        self._last = time.monotonic()

    def _catch_up(self) -> None:
        now = time.monotonic()
        self._ahead = max(0.0, self._ahead - (now - self._last) * self.SLACK)
        self._last = now

    def delay(self) -> float:
        """Seconds to wait before the next write."""
        self._catch_up()
        return max(0.0, self._ahead - self._lead)

    def wrote(self, seconds: float) -> None:
        self._catch_up()
        self._ahead += seconds


class _Converter:
    """Input PCM frames -> the bytes the device stream was opened for.

    Channels are mapped with numpy (libswresample would upmix mono at -3 dB); rates are
    converted by a PyAV resampler, which keeps state between blocks and so is used by the
    speaker thread only.
    """

    def __init__(self, in_rate: int, in_channels: int, out_rate: int, out_channels: int) -> None:
        self._in_rate = in_rate
        self._out_rate = out_rate
        self._out_channels = out_channels
        self._layout = _LAYOUTS[out_channels]
        self._mapping = in_channels != out_channels
        self._resampler = self._new_resampler()

    def _new_resampler(self) -> av.AudioResampler | None:
        if self._in_rate == self._out_rate:
            return None
        return av.AudioResampler(format="s16", layout=self._layout, rate=self._out_rate)

    def convert(self, frames: np.ndarray) -> bytes:
        if self._mapping:
            frames = _map_channels(frames, self._out_channels)
        if self._resampler is None:
            return frames.tobytes()
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(frames).reshape(1, -1), format="s16", layout=self._layout
        )
        frame.sample_rate = self._in_rate
        return _joined(self._resampler.resample(frame))

    def drain(self) -> bytes:
        """What the resampler still holds (its filter delay, under a millisecond): called when
        the audio stops, so a reply's last samples play at its end, not before the next one.
        A drained resampler takes no more input, so a fresh one replaces it."""
        if self._resampler is None:
            return b""
        tail = _joined(self._resampler.resample(None))
        self._resampler = self._new_resampler()
        return tail


def _joined(frames: list[av.AudioFrame]) -> bytes:
    return b"".join(frame.to_ndarray().tobytes() for frame in frames)


def _map_channels(frames: np.ndarray, channels: int) -> np.ndarray:
    if channels == 1:
        return frames.mean(axis=1, dtype=np.float32).round().astype(np.int16)[:, None]
    return np.repeat(frames, channels, axis=1)


class _DeviceOutput:
    """One open PyAudio output stream with its converter; closed by the speaker thread."""

    def __init__(
        self,
        pa: pyaudio.PyAudio,
        stream: pyaudio.Stream,
        device: AudioDevice,
        rate: int,
        channels: int,
        converter: _Converter,
    ) -> None:
        self._pa = pa
        self._stream = stream
        self.device = device
        self.rate = rate
        self.channels = channels
        self._converter = converter
        self._silence = bytes(2 * channels * max(1, round(rate * BLOCK_SECONDS)))
        self._tail_pending = False  # the resampler may hold the last samples written
        self.latency = float(stream.get_output_latency())

    @classmethod
    def open(
        cls,
        spec: DeviceSpec,
        sample_rate: int,
        channels: int,
        forced_rate: int | None,
        forced_channels: int | None,
    ) -> _DeviceOutput:
        pa = open_portaudio()
        try:
            device = device_info(pa, find_output_device(pa, spec))
            rate, out_channels = _pick_format(
                pa, device, sample_rate, forced_rate, forced_channels or channels, forced_channels
            )
            stream = _open_stream(pa, device, rate, out_channels)
        except BaseException:
            close_portaudio(pa)
            raise
        converter = _Converter(sample_rate, channels, rate, out_channels)
        return cls(pa, stream, device, rate, out_channels, converter)

    def describe(self) -> str:
        return f"{self.device.name!r} at {self.rate} Hz, {self.channels} channel(s)"

    def write(self, frames: np.ndarray) -> None:
        self._write(self._converter.convert(frames))
        self._tail_pending = True

    def write_silence(self) -> None:
        if self._tail_pending:
            self._write(self._converter.drain())
            self._tail_pending = False
        self._write(self._silence)

    def _write(self, data: bytes) -> None:
        if data:
            self._stream.write(data, exception_on_underflow=False)

    def close(self) -> None:
        """Let the device play out what it holds, then release the stream and PortAudio."""
        try:
            if self._tail_pending:
                self._write(self._converter.drain())
            self._stream.stop_stream()
            self._stream.close()
        except Exception as exc:  # the device may be gone; closing must still release it
            log.debug("closing the output stream of %r: %s", self.device.name, exc)
        finally:
            close_portaudio(self._pa)


def _pick_format(
    pa: pyaudio.PyAudio,
    device: AudioDevice,
    sample_rate: int,
    forced_rate: int | None,
    channels: int,
    forced_channels: int | None,
) -> tuple[int, int]:
    """(rate, channels) to open: the wanted channel count if the device takes it, else the
    other one (hardware often takes stereo only); the rate from ``supported_rate()``."""
    wanted = [channels] if forced_channels else [channels, 3 - channels]
    counts = [count for count in wanted if count <= device.max_output_channels]
    if not counts:
        raise AudioDeviceError(
            f"output device {device.name!r} has only {device.max_output_channels} channel(s)"
        )
    if forced_rate:
        return forced_rate, counts[0]
    refusal = None
    for count in counts:
        try:
            return supported_rate(pa, device.index, count, sample_rate), count
        except AudioDeviceError as exc:
            refusal = exc
    raise refusal


def _open_stream(
    pa: pyaudio.PyAudio, device: AudioDevice, rate: int, channels: int
) -> pyaudio.Stream:
    try:
        return pa.open(
            format=pyaudio.paInt16,
            channels=channels,
            rate=rate,
            output=True,
            output_device_index=device.index,
            frames_per_buffer=max(1, round(rate * BLOCK_SECONDS)),
        )
    except (OSError, ValueError) as exc:
        raise AudioDeviceError(
            f"could not open output device {device.name!r} at {rate} Hz with "
            f"{channels} channel(s): {exc}"
        ) from exc


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
        return pcm.copy()
    if pcm.ndim == 1 or (pcm.ndim == 2 and pcm.shape[0] == 1):
        samples = pcm.reshape(-1)
        if samples.size % channels == 0:
            return samples.reshape(-1, channels).copy()
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
    if channels not in (1, 2) or isinstance(channels, bool):
        raise InvalidArgument(f"{name} must be 1 (mono) or 2 (stereo), not {channels!r}")

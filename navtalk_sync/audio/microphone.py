"""A PyAudio input device, captured on a ``navtalk-mic`` thread and handed on as 24 kHz mono.

``Microphone.start()`` opens the device on the caller's thread (so a bad ``device=`` raises
there), then the ``navtalk-mic`` thread reads it in ``chunk_ms`` blocks with PyAudio's
blocking ``read``, converts each block to 24 kHz mono int16 (the rate NavTalk's uplink
takes) and calls ``sink(pcm24k)`` with it. The client's sink sends it up the socket.

Device rate. The device is opened at 48 kHz when it takes it, else at the first rate it takes
(see ``devices.supported_rate``): 48 kHz is the native rate of most capture hardware and of
sound servers, so neither converts, and 48 -> 24 kHz is an exact halving in libswresample,
whose filter is better than ALSA's default linear ``plug`` converter. ``device_rate`` forces
a rate.

Overflow. PyAudio's ``read()`` raises on input overflow (-9981) by default; the thread reads
with ``exception_on_overflow=False``, so it never does. PyAudio then says nothing at all, and
the ALSA ``pulse`` plugin never reports one either, so the thread detects overflow itself:
converting and delivering a chunk that took longer than the device's buffer can hold (the
sink blocked, or the machine stalled) counts as one in ``stats()["overflows"]``.

Pacing. Hardware paces a blocking reader. Virtual devices (ALSA ``file`` PCMs) return at
once; there, the thread holds itself to real time (never more than ``LEAD_SECONDS`` ahead of
the wall clock since it started), so the sink sees speech at the pace it was spoken.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, Callable

import av
import numpy as np

from ..errors import AudioDeviceError, InvalidArgument
from ..logs import get_logger
from .device_thread import DeviceThread
from .devices import (
    AudioDevice,
    DeviceSpec,
    OpenStream,
    close_portaudio,
    device_info,
    find_input_device,
    open_portaudio,
    open_stream,
    supported_rate,
)
from .pcm import UPLINK_RATE, mono_int16

__all__ = ["LEAD_SECONDS", "SEND_RATE", "Microphone", "Sink"]

if TYPE_CHECKING:
    import pyaudio

log = get_logger(__name__)

#: The rate every chunk handed to the sink has (NavTalk's PCM16 uplink rate).
SEND_RATE = UPLINK_RATE

#: The rate the device is asked for first.
PREFERRED_DEVICE_RATE = 48000

#: How far ahead of the wall clock an unpaced (virtual) device may be read.
LEAD_SECONDS = 0.2

#: What the microphone delivers to: a 1-D int16 array of 24 kHz mono samples.
Sink = Callable[[np.ndarray], None]


class Microphone(DeviceThread["_DeviceInput"]):
    """Captures an input device and delivers 24 kHz mono int16 chunks to ``sink``.

    ``device``: None/True for the default input device, an index, or (part of) a device name
    (see ``list_audio_devices()``). ``chunk_ms``: the size of each read, and so of each chunk
    the sink gets. ``device_rate`` forces the rate the device is opened at.

    Muting. While muted the microphone keeps reading and sends SILENCE of the same length,
    at the same pace, rather than nothing: the server's voice-activity detection then hears
    the speech end when ``mute()`` cuts a sentence (sending nothing would leave it waiting
    mid-utterance and splice the words after ``unmute()`` onto it), and the uplink stays a
    steady stream.

    ``sink`` runs on the ``navtalk-mic`` thread. A sink that raises is logged (the first time
    with its traceback) and counted in ``stats()["sink_errors"]``; capture goes on. A sink
    that blocks holds up capture: what the device cannot hold meanwhile is lost and counted
    in ``stats()["overflows"]``.

    Use it as a context manager, or call ``start()`` and ``close()``.
    """

    def __init__(
        self,
        sink: Sink,
        device: DeviceSpec = None,
        *,
        chunk_ms: float = 20,
        device_rate: int | None = None,
        muted: bool = False,
    ) -> None:
        if not callable(sink):
            raise InvalidArgument(f"sink must be callable, not {type(sink).__name__}")
        if device is False or (device is not None and not isinstance(device, (bool, int, str))):
            raise InvalidArgument(
                f"device must be None, True, an int index or a str name, not {device!r}"
            )
        if not 5 <= chunk_ms <= 500:
            raise InvalidArgument(f"chunk_ms must be between 5 and 500, not {chunk_ms!r}")
        if device_rate is not None and (
            isinstance(device_rate, bool)
            or not isinstance(device_rate, int)
            or not 8000 <= device_rate <= 384000
        ):
            raise InvalidArgument(
                f"device_rate must be an int between 8000 and 384000 Hz, not {device_rate!r}"
            )
        self.device = device
        self.chunk_ms = chunk_ms
        self._sink = sink
        self._device_rate = device_rate
        self._muted = muted
        super().__init__("Microphone", "navtalk-mic")
        self._error: str | None = None
        self._counts = {"captured": 0, "sent": 0, "muted": 0, "overflows": 0, "sink_errors": 0}

    def __repr__(self) -> str:
        state = "closed" if self._closed else "capturing" if self._thread else "not started"
        muted = " muted" if self._muted else ""
        return f"<Microphone device={self.device!r} {state}{muted}>"

    def __enter__(self) -> Microphone:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Microphone:
        """Open the device and start the ``navtalk-mic`` thread (a second call does nothing).

        Raises ``InvalidArgument`` when ``device`` names no input device (the message lists
        them), ``AudioDeviceError`` when the device cannot be opened, and ``NavTalkError`` after
        ``close()``.
        """
        super().start()
        return self

    def _open_device(self) -> _DeviceInput:
        return _DeviceInput.open(self.device, self.chunk_ms, self._device_rate)

    def close(self, timeout: float = 1.0) -> None:
        """Stop capturing and close the device (idempotent, any thread).

        Waits at most ``timeout`` seconds for the thread, which stops after its current read
        (one chunk). A thread stuck in a device that stopped responding is left to finish on
        its own (it is a daemon thread) and closes the device when the read returns.
        """
        super().close(timeout)

    # -- muting ------------------------------------------------------------------------------

    def mute(self) -> None:
        """Send silence instead of what the device hears (see the class docstring)."""
        self._muted = True

    def unmute(self) -> None:
        """Send what the device hears again."""
        self._muted = False

    @property
    def muted(self) -> bool:
        return self._muted

    # -- observation -------------------------------------------------------------------------

    @property
    def latency(self) -> float | None:
        """Seconds from the sound to a read, as the device reports it (None before
        ``start()``)."""
        device_input = self._device
        return device_input.latency if device_input else None

    def stats(self) -> dict[str, Any]:
        """Counters and the device in use.

        ``captured_ms`` (read from the device), ``sent_ms`` (handed to the sink, silence
        included), ``muted_ms`` (silence sent while muted), ``overflows`` (reads that came too
        late for the device's buffer: audio was lost), ``sink_errors``, ``muted``, ``device``
        (name), ``rate`` and ``channels`` (as opened; None before ``start()``) and ``error``
        (why the thread stopped early, else None).
        """
        counts = dict(self._counts)
        device_input = self._device
        return {
            "captured_ms": counts["captured"] * 1000 / device_input.rate if device_input else 0.0,
            "sent_ms": counts["sent"] * 1000 / SEND_RATE,
            "muted_ms": counts["muted"] * 1000 / SEND_RATE,
            "overflows": counts["overflows"],
            "sink_errors": counts["sink_errors"],
            "muted": self._muted,
            "device": device_input.device.name if device_input else None,
            "rate": device_input.rate if device_input else None,
            "channels": device_input.channels if device_input else None,
            "error": self._error,
        }

    # -- the navtalk-mic thread --------------------------------------------------------------

    def _run(self, device_input: _DeviceInput) -> None:
        converter = _ToSendRate(device_input.rate)
        started = time.monotonic()
        captured_seconds = 0.0
        try:
            while not self._stopping.is_set():
                ahead = captured_seconds - (time.monotonic() - started)
                if ahead > LEAD_SECONDS and self._stopping.wait(ahead - LEAD_SECONDS):
                    break
                frames = device_input.read()
                read_at = time.monotonic()
                self._counts["captured"] += len(frames)
                captured_seconds += len(frames) / device_input.rate
                self._deliver(converter.convert(frames))
                if time.monotonic() - read_at > device_input.holds:
                    self._counts["overflows"] += 1
                    log.debug("microphone overflow: the device buffer filled up meanwhile")
            self._deliver(converter.drain())
        except Exception as exc:
            self._error = f"{type(exc).__name__}: {exc}"
            log.error("microphone stopped: reading %r failed: %s", device_input.device.name, exc)
        finally:
            device_input.close()

    def _deliver(self, pcm: np.ndarray) -> None:
        if not len(pcm):
            return
        if self._muted:
            pcm = np.zeros_like(pcm)
            self._counts["muted"] += len(pcm)
        try:
            self._sink(pcm)
        except Exception:
            self._counts["sink_errors"] += 1
            if self._counts["sink_errors"] == 1:
                log.exception("the microphone's sink raised; capture goes on")
            else:
                log.debug("the microphone's sink raised again", exc_info=True)
        # counted even when the sink raised: it was handed over, the sink chose what to do
        self._counts["sent"] += len(pcm)


class _ToSendRate:
    """Device PCM (frames, channels) -> 24 kHz mono int16, with ONE stateful PyAV resampler
    (used by the ``navtalk-mic`` thread only). Channels are averaged with numpy first.

    The resampler holds back its filter's look-ahead (16 samples out at 48 kHz in), so a read
    would give out a little less than it took in, and the last samples of a read come out
    with the next one. A 64 ms uplink frame whose end fell on a read's end (one in five at
    20 ms reads) then waited a whole read (20 ms) for them. Priming the resampler with that
    look-ahead in silence makes every read give out exactly its length: the stream starts
    with under a millisecond of silence, and frames go out as soon as they are captured.
    """

    def __init__(self, rate: int) -> None:
        self._rate = rate
        self._resampler = None
        self._primed = np.zeros(0, np.int16)
        if rate != SEND_RATE:
            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SEND_RATE)
            lead = np.zeros(round(_look_ahead(rate) * rate / SEND_RATE), np.int16)
            self._primed = self._resample(lead)

    def convert(self, frames: np.ndarray) -> np.ndarray:
        mono = mono_int16(frames)
        if self._resampler is None:
            return np.asarray(mono.copy())
        pcm = self._resample(mono)
        if len(self._primed):  # whatever the silent lead gave out goes first
            pcm, self._primed = np.concatenate([self._primed, pcm]), self._primed[:0]
        return pcm

    def _resample(self, mono: np.ndarray) -> np.ndarray:
        assert self._resampler is not None
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(mono).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = self._rate
        return _joined(self._resampler.resample(frame))

    def drain(self) -> np.ndarray:
        """What the resampler still holds (its filter delay); it takes no input afterwards."""
        if self._resampler is None:
            return np.zeros(0, np.int16)
        return _joined(self._resampler.resample(None))


@functools.cache
def _look_ahead(rate: int) -> int:
    """How many 24 kHz samples a fresh resampler from ``rate`` holds back (measured once: it
    depends on libswresample's filter, not on the audio)."""
    probe = av.AudioResampler(format="s16", layout="mono", rate=SEND_RATE)
    block = np.zeros((1, rate // 10), np.int16)  # 100 ms, far longer than the filter
    frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
    frame.sample_rate = rate
    given = sum(out.samples for out in probe.resample(frame))
    return max(0, round(block.shape[1] * SEND_RATE / rate) - given)


def _joined(frames: list[av.AudioFrame]) -> np.ndarray:
    if not frames:
        return np.zeros(0, np.int16)
    return np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames]).astype(np.int16)


class _DeviceInput(OpenStream):
    """One open PyAudio input stream; read and closed by the ``navtalk-mic`` thread."""

    def __init__(
        self, pa: pyaudio.PyAudio, stream: pyaudio.Stream, device: AudioDevice, rate: int,
        channels: int, chunk: int,
    ) -> None:  # fmt: skip
        super().__init__(pa, stream, device, rate, channels)
        self._chunk = chunk
        self.latency = float(stream.get_input_latency())
        # How long the device can be left unread before it drops audio: PortAudio's latency is
        # its buffer; a chunk more allows for the read in progress.
        self.holds = self.latency + 2 * chunk / rate

    @classmethod
    def open(cls, spec: DeviceSpec, chunk_ms: float, forced_rate: int | None) -> _DeviceInput:
        pa = open_portaudio()
        try:
            device = device_info(pa, find_input_device(pa, spec))
            channels = _channels(pa, device, forced_rate)
            rate = forced_rate or supported_rate(
                pa, device.index, channels, PREFERRED_DEVICE_RATE, output=False
            )
            chunk = max(1, round(rate * chunk_ms / 1000))
            stream = open_stream(pa, device, rate, channels, chunk, output=False)
        except BaseException:
            close_portaudio(pa)
            raise
        return cls(pa, stream, device, rate, channels, chunk)

    def read(self) -> np.ndarray:
        data = self._stream.read(self._chunk, exception_on_overflow=False)
        return np.frombuffer(data, dtype="<i2").astype(np.int16).reshape(-1, self.channels)

    def close(self) -> None:
        self.release()


def _channels(pa: pyaudio.PyAudio, device: AudioDevice, forced_rate: int | None) -> int:
    """Mono when the device takes it, else stereo (some hardware captures stereo only)."""
    if device.max_input_channels >= 2 and not _takes_mono(pa, device, forced_rate):
        return 2
    return 1


def _takes_mono(pa: pyaudio.PyAudio, device: AudioDevice, rate: int | None) -> bool:
    try:
        supported_rate(pa, device.index, 1, rate or PREFERRED_DEVICE_RATE, output=False)
    except AudioDeviceError:
        return False
    return True

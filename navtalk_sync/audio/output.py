"""An open PyAudio output stream, fed int16 PCM in whatever rate and channel count it was
opened with: the device side of the speaker.

``DeviceOutput.open()`` picks the device (``devices.find_output_device``), a channel count and a
rate it accepts, opens a blocking stream and converts PCM to that format; it is then used and
closed by one thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import av
import numpy as np

from ..logs import get_logger
from .devices import (
    AudioDevice,
    AudioDeviceError,
    DeviceSpec,
    OpenStream,
    close_portaudio,
    device_info,
    find_output_device,
    open_portaudio,
    open_stream,
    supported_rate,
)
from .pcm import mono_int16

__all__ = ["BLOCK_SECONDS", "DeviceOutput", "PcmConverter"]

if TYPE_CHECKING:
    import pyaudio

log = get_logger(__name__)

#: The unit of every write: small enough that a flush takes effect almost at once.
BLOCK_SECONDS = 0.01

_LAYOUTS = {1: "mono", 2: "stereo"}


class PcmConverter:
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
        return mono_int16(frames)[:, None]
    return np.repeat(frames, channels, axis=1)


class DeviceOutput(OpenStream):
    """One open PyAudio output stream with its converter; closed by the speaker thread."""

    def __init__(
        self, pa: pyaudio.PyAudio, stream: pyaudio.Stream, device: AudioDevice, rate: int,
        channels: int, converter: PcmConverter,
    ) -> None:  # fmt: skip
        super().__init__(pa, stream, device, rate, channels)
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
    ) -> DeviceOutput:
        pa = open_portaudio()
        try:
            device = device_info(pa, find_output_device(pa, spec))
            rate, out_channels = _pick_format(
                pa, device, sample_rate, forced_rate, forced_channels or channels, forced_channels
            )
            frames = max(1, round(rate * BLOCK_SECONDS))
            stream = open_stream(pa, device, rate, out_channels, frames, output=True)
        except BaseException:
            close_portaudio(pa)
            raise
        converter = PcmConverter(sample_rate, channels, rate, out_channels)
        return cls(pa, stream, device, rate, out_channels, converter)

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
        except Exception as exc:  # the device may be gone; closing must still release it
            log.debug("draining the output stream of %r: %s", self.device.name, exc)
        finally:
            self.release()


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
    assert refusal is not None
    raise refusal

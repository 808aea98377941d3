"""Uplink audio conversion: any PCM -> 24 kHz mono PCM16LE pieces (protocol.md#audio-format).

Pure computation, no threads or I/O:

* ``to_float_frames()`` checks and normalises input (bytes or a numpy array of int16, int32,
  uint8, float32 or float64; any channel count) to float32 ``(frames, channels)`` in [-1, 1].
* ``Converter`` downmixes (the mean of the channels), resamples with PyAV's ``AudioResampler``
  (libswresample: band-limited, so a 15 kHz tone does not fold back into the 48 -> 24 kHz
  output) and turns floats into int16 the way the browsers do (clamp to [-1, 1]; negatives
  scaled by 32768, positives by 32767). One Converter is one stream: the resampler keeps its
  filter state across calls, so piece borders make no clicks.
* ``Chunker`` cuts the PCM into fixed pieces (1536 samples = 3072 bytes = exactly 4096
  base64 characters by default), keeping the remainder for the next call.

A Converter is not thread-safe (neither is PyAV's resampler): its owner serialises calls.
"""

from __future__ import annotations

from typing import Any

import av
import numpy as np

from ..errors import InvalidArgument

__all__ = [
    "mono_int16",
    "UPLINK_RATE",
    "DEFAULT_CHUNK_SAMPLES",
    "MAX_CHANNELS",
    "Chunker",
    "Converter",
    "float_to_pcm16",
    "pcm16_to_float",
    "seconds_of",
    "silence",
    "to_float_frames",
]

#: The only rate the service takes (protocol.md#audio-format).
UPLINK_RATE = 24_000
#: 64 ms: 3072 bytes, exactly 4096 base64 characters, like every browser client's slices.
DEFAULT_CHUNK_SAMPLES = 1536
#: More channels than this is taken for a planar (channels, frames) array passed by mistake.
MAX_CHANNELS = 32

_INT_SCALES = {np.dtype(np.int16): 32768.0, np.dtype(np.int32): 2147483648.0}


def _check_rate(sample_rate: Any) -> int:
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise InvalidArgument(f"sample_rate must be an integer number of Hz, got {sample_rate!r}")
    if not 1000 <= sample_rate <= 768_000:
        raise InvalidArgument(f"sample_rate must be between 1000 and 768000 Hz, got {sample_rate}")
    return int(sample_rate)


def _check_channels(channels: Any) -> int | None:
    if channels is None:
        return None
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)):
        raise InvalidArgument(f"channels must be a positive integer, got {channels!r}")
    if not 1 <= channels <= MAX_CHANNELS:
        raise InvalidArgument(f"channels must be between 1 and {MAX_CHANNELS}, got {channels}")
    return int(channels)


def pcm16_to_float(samples: np.ndarray) -> np.ndarray:
    """int16 -> float32 in [-1, 1], the exact inverse of ``float_to_pcm16``."""
    values = samples.astype(np.float32)
    return np.where(values < 0, values / 32768.0, values / 32767.0).astype(np.float32)


def float_to_pcm16(samples: np.ndarray) -> np.ndarray:
    """float -> int16: clamp to [-1, 1], negatives x 32768, positives x 32767
    (protocol.md#audio-format)."""
    clamped = np.clip(samples, -1.0, 1.0)
    scaled = np.where(clamped < 0, clamped * 32768.0, clamped * 32767.0)
    return np.asarray(np.rint(scaled).astype(np.int16))


def _as_array(samples: Any) -> np.ndarray:
    if isinstance(samples, (bytes, bytearray, memoryview)):
        raw = bytes(samples)
        if len(raw) % 2:
            raise InvalidArgument(
                f"audio bytes are read as PCM16 little-endian, so their length must be even "
                f"(got {len(raw)} bytes)"
            )
        return np.frombuffer(raw, dtype="<i2")
    if isinstance(samples, np.ndarray):
        return samples
    raise InvalidArgument(
        f"audio must be bytes (PCM16 little-endian) or a numpy array, got {type(samples).__name__}"
    )


def _normalise(array: np.ndarray) -> np.ndarray:
    """Any accepted dtype -> float32 in [-1, 1] (floats are clamped later, at int16)."""
    dtype = array.dtype
    if dtype.kind == "f" and dtype.itemsize in (4, 8):
        values = array.astype(np.float32, copy=False)
        if not np.isfinite(values).all():
            raise InvalidArgument("audio contains NaN or infinite samples")
        return values
    if dtype.kind == "i" and dtype.itemsize == 2:
        return pcm16_to_float(array)
    if dtype.kind == "i" and dtype.itemsize == 4:
        return (array.astype(np.float64) / _INT_SCALES[np.dtype(np.int32)]).astype(np.float32)
    if dtype == np.uint8:  # unsigned 8-bit PCM is offset binary around 128
        return ((array.astype(np.float32) - 128.0) / 128.0).astype(np.float32)
    raise InvalidArgument(
        f"unsupported audio dtype {dtype}; use int16, int32, uint8, float32 or float64"
    )


def to_float_frames(samples: Any, channels: int | None = None) -> np.ndarray:
    """Check and normalise audio to float32 ``(frames, channels)``.

    ``samples`` is PCM16LE bytes or a numpy array: 1-D (mono, or interleaved when
    ``channels`` > 1) or 2-D ``(frames, channels)``. Raises ``InvalidArgument`` naming what was
    wrong and what is accepted.
    """
    channels = _check_channels(channels)
    array = _as_array(samples)
    if array.ndim == 1:
        count = channels or 1
        if array.size % count:
            raise InvalidArgument(
                f"{array.size} interleaved samples do not divide into {count} channels"
            )
        array = array.reshape(-1, count)
    elif array.ndim == 2:
        if array.shape[1] > MAX_CHANNELS:
            raise InvalidArgument(
                f"audio of shape {array.shape} has {array.shape[1]} channels; a 2-D array is "
                "(frames, channels): transpose planar (channels, frames) audio first"
            )
        if channels is not None and array.shape[1] != channels:
            raise InvalidArgument(
                f"audio of shape {array.shape} has {array.shape[1]} channels, "
                f"but channels={channels}"
            )
    else:
        raise InvalidArgument(
            f"audio must be 1-D or 2-D (frames, channels), got shape {array.shape}"
        )
    if array.shape[1] == 0:
        raise InvalidArgument("audio must have at least one channel")
    return _normalise(array)


def mono_int16(frames: np.ndarray) -> np.ndarray:
    """int16 ``(frames, channels)`` as one int16 channel: the mean of the channels, rounded
    (the microphone, the speaker's mono devices and the echo canceller's reference)."""
    if frames.shape[1] == 1:
        return np.asarray(frames[:, 0])
    return np.asarray(frames.mean(axis=1, dtype=np.float32).round().astype(np.int16))


class Converter:
    """One stream's conversion to 24 kHz mono int16, with resampler state kept across calls.

    ``convert()`` returns what is ready now; a resampler holds back about a millisecond,
    which ``finish()`` releases at the end of the stream. A change of input rate finishes the
    running resampler and starts a new one.
    """

    def __init__(self) -> None:
        self._resampler: av.AudioResampler | None = None
        self._rate: int | None = None
        self.frames_in = 0
        self.samples_out = 0

    def convert(self, samples: Any, sample_rate: int, channels: int | None = None) -> np.ndarray:
        """Audio in any accepted form -> int16 mono samples at 24 kHz (perhaps empty)."""
        rate = _check_rate(sample_rate)
        frames = to_float_frames(samples, channels)
        mono = frames.mean(axis=1, dtype=np.float32) if frames.shape[1] > 1 else frames[:, 0]
        self.frames_in += len(mono)
        pieces = []
        if rate != self._rate:
            pieces.append(self._finish_resampler())
            self._rate = rate
        if rate == UPLINK_RATE:
            pieces.append(mono)
        elif len(mono):
            pieces.append(self._resample(mono, rate))
        return self._out(pieces)

    def finish(self) -> np.ndarray:
        """The samples still inside the resampler; the next convert() starts afresh."""
        out = self._out([self._finish_resampler()])
        self._rate = None
        return out

    def _resample(self, mono: np.ndarray, rate: int) -> np.ndarray:
        if self._resampler is None:
            self._resampler = av.AudioResampler(format="flt", layout="mono", rate=UPLINK_RATE)
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(mono)[None, :], format="flt", layout="mono"
        )
        frame.sample_rate = rate
        return _joined(self._resampler.resample(frame))

    def _finish_resampler(self) -> np.ndarray:
        resampler, self._resampler = self._resampler, None
        if resampler is None:
            return np.zeros(0, np.float32)
        return _joined(resampler.resample(None))

    def _out(self, pieces: list[np.ndarray]) -> np.ndarray:
        joined = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        pcm = float_to_pcm16(joined)
        self.samples_out += len(pcm)
        return pcm


def _joined(frames: list[av.AudioFrame]) -> np.ndarray:
    if not frames:
        return np.zeros(0, np.float32)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.float32)


class Chunker:
    """Cuts int16 samples into pieces of ``chunk_samples``; keeps the remainder for later."""

    def __init__(self, chunk_samples: int = DEFAULT_CHUNK_SAMPLES) -> None:
        if isinstance(chunk_samples, bool) or not isinstance(chunk_samples, int):
            raise InvalidArgument(f"chunk_samples must be an integer, got {chunk_samples!r}")
        if chunk_samples < 1:
            raise InvalidArgument(f"chunk_samples must be positive, got {chunk_samples}")
        self.chunk_samples = chunk_samples
        self._pending = np.zeros(0, np.int16)

    @property
    def pending(self) -> int:
        """Samples kept back until a whole piece (or ``flush()``)."""
        return len(self._pending)

    def push(self, pcm: np.ndarray) -> list[bytes]:
        """Add samples; returns the whole pieces now ready, as PCM16LE bytes, in order."""
        data = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
        whole = len(data) - len(data) % self.chunk_samples
        self._pending = data[whole:].copy()
        size = self.chunk_samples
        return [_le_bytes(data[i : i + size]) for i in range(0, whole, size)]

    def flush(self) -> bytes | None:
        """The remainder as a last, shorter piece (None when there is none)."""
        if not len(self._pending):
            return None
        tail, self._pending = self._pending, np.zeros(0, np.int16)
        return _le_bytes(tail)


def _le_bytes(samples: np.ndarray) -> bytes:
    return samples.astype("<i2", copy=False).tobytes()


def seconds_of(pcm16: bytes) -> float:
    """The duration of PCM16 mono bytes at 24 kHz."""
    return len(pcm16) / 2 / UPLINK_RATE


def silence(seconds: float) -> np.ndarray:
    """``seconds`` of zeros at 24 kHz (int16); ``InvalidArgument`` unless 0 <= seconds <= 3600."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise InvalidArgument(f"seconds must be a number, got {seconds!r}")
    if not 0 <= seconds <= 3600:  # NaN too; compared before any float(): 10**400 overflows it
        raise InvalidArgument(f"seconds must be between 0 and 3600, got {seconds!r}")
    return np.zeros(round(seconds * UPLINK_RATE), np.int16)

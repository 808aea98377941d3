"""PCM16 helpers for the server's voice: checking samples, resampling, slicing into chunks.

Resampling goes through PyAV's ``AudioResampler`` (FFmpeg's swresample), not a hand-written
interpolation.
"""

from __future__ import annotations

import numbers
from typing import Iterator

import av
import numpy as np

__all__ = ["as_pcm16", "resample", "chunks"]


def as_pcm16(samples: object) -> np.ndarray:
    """``samples`` as a 1-D int16 array; raises TypeError/ValueError for anything else.

    Accepts shapes ``(n,)``, ``(1, n)`` and ``(n, 1)`` (mono in any orientation).
    """
    if not isinstance(samples, np.ndarray):
        raise TypeError(f"samples must be a numpy int16 array, not {type(samples).__name__}")
    if samples.dtype != np.int16:
        raise TypeError(f"samples must be int16 (PCM16), not {samples.dtype}")
    if samples.ndim == 2 and 1 in samples.shape:
        samples = samples.reshape(-1)
    if samples.ndim != 1:
        raise ValueError(f"samples must be mono (1-D), got shape {samples.shape}")
    return samples


def resample(samples: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """Mono int16 ``samples`` at ``rate`` Hz -> mono int16 at ``target_rate`` Hz."""
    samples = as_pcm16(samples)
    rate, target_rate = _rate(rate), _rate(target_rate)
    if rate == target_rate or samples.size == 0:
        return samples
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples).reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=target_rate)
    frames = resampler.resample(frame) + resampler.resample(None)  # None flushes the tail
    if not frames:
        return np.zeros(0, np.int16)
    return np.concatenate([f.to_ndarray().reshape(-1) for f in frames]).astype(np.int16)


def _rate(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"a sample rate must be a positive integer (Hz), got {value!r}")
    return int(value)


def chunks(samples: np.ndarray, size: int) -> Iterator[bytes]:
    """Little-endian PCM16 bytes in pieces of ``size`` samples (the last may be shorter)."""
    data = as_pcm16(samples).astype("<i2", copy=False)
    for start in range(0, data.size, size):
        yield data[start : start + size].tobytes()

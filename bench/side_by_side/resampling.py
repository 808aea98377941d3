"""Row 7: resampling 48 kHz stereo float to 24 kHz mono PCM16, in times real time.

Ours: ``audio.pcm.Converter`` (what ``send_audio()`` and ``audio_stream().write()`` run on a
float stereo array): the channel mean, PyAV's band-limited resampler (libswresample), the
browsers' float-to-int16 rule. Baseline: the numpy a user would write by hand: the channel
mean, ``np.interp`` to the new rate (linear: no low-pass filter, so everything above 12 kHz
folds back into the voice band), clip and scale to int16. Both get the same 20 ms blocks (what
a 48 kHz capture callback delivers); "times real time" is seconds of audio converted per
second of this process's CPU time; the table has the median of the rounds.

Why not np.interp: fed a 15 kHz tone at half scale, ours gives silence (the tone is above the
new Nyquist frequency, 12 kHz) and the baseline gives a 9 kHz tone at the same level.
"""

from __future__ import annotations

import time

import numpy as np

from navtalk_sync.audio.pcm import Converter

from .plan import Plan
from .report import Figures, Measure

RATE_IN = 48_000
RATE_OUT = 24_000
BLOCK = RATE_IN // 50  # 20 ms


def stereo_noise(seconds: float) -> np.ndarray:
    """Speech-like level: quiet noise with a tone, float32 (frames, 2)."""
    rng = np.random.default_rng(7)
    t = np.arange(int(seconds * RATE_IN)) / RATE_IN
    left = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t))
    right = 0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(len(t))
    return np.stack([left, right], axis=1).astype(np.float32)


def ours(blocks: list[np.ndarray]) -> int:
    converter = Converter()
    out = sum(len(converter.convert(block, RATE_IN, 2)) for block in blocks)
    return out + len(converter.finish())


class ByHand:
    """Linear interpolation with the phase carried across blocks, as a careful user would."""

    def __init__(self) -> None:
        self._position = 0.0  # where the next output sample falls, in input frames
        self._last = np.zeros(1, np.float32)  # the previous block's last sample

    def convert(self, block: np.ndarray) -> np.ndarray:
        mono = np.concatenate([self._last, block.mean(axis=1, dtype=np.float32)])
        step = RATE_IN / RATE_OUT
        positions = np.arange(self._position, len(mono) - 1, step)
        self._position = positions[-1] + step - (len(mono) - 1) if len(positions) else 0.0
        self._last = mono[-1:]
        out = np.interp(positions, np.arange(len(mono)), mono)
        return (np.clip(out, -1.0, 1.0) * 32767).astype(np.int16)


def by_hand(blocks: list[np.ndarray]) -> int:
    converter = ByHand()
    return sum(len(converter.convert(block)) for block in blocks)


def times_realtime(convert: object, blocks: list[np.ndarray], seconds: float) -> float:
    started = time.process_time()
    produced = convert(blocks)  # type: ignore[operator]
    spent = time.process_time() - started
    assert abs(produced - seconds * RATE_OUT) < RATE_OUT * 0.01, produced  # all of it came out
    return seconds / spent


def run(plan: Plan) -> list[Measure]:
    seconds = plan.seconds(60.0, 2.0)
    audio = stereo_noise(seconds)
    blocks = [audio[i : i + BLOCK] for i in range(0, len(audio), BLOCK)]
    rounds = plan.count(5, 1)
    results: dict[str, list[float]] = {"ours": [], "by hand": []}
    for _ in range(rounds):  # alternating, so drift hits both
        results["ours"].append(times_realtime(ours, blocks, seconds))
        results["by hand"].append(times_realtime(by_hand, blocks, seconds))
    return [
        Measure(
            row=7,
            what="48k stereo float -> 24k mono PCM16",
            unit="x realtime",
            ours=Figures.median(results["ours"]),
            baseline_name="numpy np.interp by hand",
            baseline=Figures.median(results["by hand"]),
            target="(no target)",
            higher_is_better=True,
        )
    ]

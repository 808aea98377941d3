"""The avatar's voice: text in, PCM16 samples out.

A voice is any callable ``text -> (samples, sample_rate)`` with ``samples`` a 1-D int16 numpy
array (mono). It runs on a worker thread, never on the server's event loop, so it may block.

``ToneVoice`` is the default until a real synthesizer replaces it: no words, but a sound with
the rhythm of speech. Each word is a voiced buzz (a pitch between 120 and 220 Hz with harmonics
shaped by two vowel formants, falling slightly, with a soft attack and decay) lasting about
0.25-0.35 s, its loudness rising and falling a few times like syllables. Words are separated
by short gaps, longer at commas and full stops. The same text always gives the same samples.
"""

from __future__ import annotations

import re
import zlib
from typing import Callable, Sequence

import numpy as np

from .samples import as_pcm16, resample

__all__ = ["Voice", "ToneVoice", "synthesize"]

#: A synthesizer: text -> (int16 mono samples, sample rate in Hz).
Voice = Callable[[str], tuple[np.ndarray, int]]

_TOKENS = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[.!?;:,]")
_PAUSES = {",": 0.20, ";": 0.22, ":": 0.22, ".": 0.36, "!": 0.36, "?": 0.36}
# First two formants (Hz) of a word's first vowel: a rough colouring, not phonetics.
_FORMANTS = {
    "a": (730.0, 1090.0),
    "e": (530.0, 1840.0),
    "i": (300.0, 2250.0),
    "o": (570.0, 840.0),
    "u": (320.0, 870.0),
    "y": (400.0, 1900.0),
}
_NEUTRAL_FORMANTS = (500.0, 1500.0)
_FORMANT_WIDTH = 180.0  # Hz
_HARMONICS = 16
_ATTACK = 0.03  # s
_DECAY = 0.08  # s


def synthesize(voice: Voice, text: str, rates: Sequence[int]) -> list[np.ndarray]:
    """Run ``voice`` on ``text``; its speech resampled to each of ``rates`` (int16 mono).

    Raises TypeError or ValueError when the voice returns anything but (int16 samples, rate).
    """
    result = voice(text)
    if not isinstance(result, tuple) or len(result) != 2:
        raise TypeError(f"a voice must return (samples, sample_rate), not {type(result).__name__}")
    samples, rate = result
    samples = as_pcm16(samples)
    return [resample(samples, rate, target) for target in rates]


class ToneVoice:
    """A deterministic speech-like tone voice at ``sample_rate`` (default 48 kHz).

    ``peak`` is the loudest sample as a fraction of full scale, so the output never clips.
    """

    def __init__(self, sample_rate: int = 48000, peak: float = 0.5, word_gap: float = 0.07) -> None:
        if not isinstance(sample_rate, int) or not 8000 <= sample_rate <= 192000:
            raise ValueError(f"sample_rate must be an int from 8000 to 192000, got {sample_rate!r}")
        if not 0 < peak <= 1:
            raise ValueError(f"peak must be above 0 and at most 1, got {peak!r}")
        if word_gap < 0:
            raise ValueError(f"word_gap must be 0 or more seconds, got {word_gap!r}")
        self.sample_rate = sample_rate
        self.peak = float(peak)
        self.word_gap = float(word_gap)

    def __call__(self, text: str) -> tuple[np.ndarray, int]:
        pieces: list[np.ndarray] = []
        for token in _TOKENS.findall(text):
            if token in _PAUSES:
                if pieces:  # a pause replaces the gap after the word before it
                    pieces[-1] = self._silence(_PAUSES[token])
                continue
            pieces.append(self._word(token))
            pieces.append(self._silence(self.word_gap))
        if pieces:
            pieces.pop()  # no silence after the last word
        samples = np.concatenate(pieces) if pieces else np.zeros(0, np.float32)
        return np.round(samples * 32767).astype(np.int16), self.sample_rate

    def __repr__(self) -> str:
        return f"ToneVoice(sample_rate={self.sample_rate}, peak={self.peak})"

    def _silence(self, seconds: float) -> np.ndarray:
        return np.zeros(round(seconds * self.sample_rate), np.float32)

    def _word(self, word: str) -> np.ndarray:
        """One word's buzz, scaled so its loudest sample is ``peak``."""
        seed = zlib.crc32(word.lower().encode("utf-8"))
        duration = 0.24 + 0.018 * min(len(word), 6)
        n = round(duration * self.sample_rate)
        t = np.arange(n, dtype=np.float64) / self.sample_rate
        pitch = 120.0 + seed % 100  # Hz, the word's own pitch
        f0 = pitch * (1.0 - 0.08 * t / duration)  # falls a little, like a spoken word
        phase = 2 * np.pi * np.cumsum(f0) / self.sample_rate
        vowel = next((c for c in word.lower() if c in _FORMANTS), None)
        f1, f2 = _FORMANTS.get(vowel, _NEUTRAL_FORMANTS) if vowel else _NEUTRAL_FORMANTS
        k = np.arange(1, _HARMONICS + 1, dtype=np.float64)
        freq = k * pitch
        weight = (
            1 / (1 + ((freq - f1) / _FORMANT_WIDTH) ** 2)
            + 0.6 / (1 + ((freq - f2) / _FORMANT_WIDTH) ** 2)
            + 0.15 / k  # some energy in every harmonic: a buzz, not a whistle
        )
        weight[freq > 0.45 * self.sample_rate] = 0  # nothing above Nyquist
        wave = weight @ np.sin(np.outer(k, phase))
        wave *= _envelope(n, self.sample_rate)
        syllables = 4.0 + (seed >> 8) % 3  # per second: the loudness (and the mouth) moves
        wave *= 1.0 - 0.3 * (0.5 - 0.5 * np.cos(2 * np.pi * syllables * t))
        wave *= self.peak / max(np.abs(wave).max(), 1e-9)
        return wave.astype(np.float32)


def _envelope(n: int, rate: int) -> np.ndarray:
    """Raised-cosine attack and decay around a flat middle."""
    envelope = np.ones(n)
    attack = min(round(_ATTACK * rate), n // 2)
    decay = min(round(_DECAY * rate), n - attack)
    envelope[:attack] = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, attack))
    envelope[n - decay :] = 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, decay))
    return envelope

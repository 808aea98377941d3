"""What the user said: offline speech recognition with pocketsphinx and its bundled en-US model.

A recognizer is any callable ``(samples, sample_rate) -> text`` taking one utterance as a 1-D
int16 array. It runs on a worker thread, never on the server's event loop, so it may block.

``PocketsphinxEar`` loads the model (about 0.6 s and some 50 MB) once, at its first utterance,
and decodes one utterance at a time behind a lock: the server shares one ear across its
sessions, which costs less than a model per session and is fast enough for a local server
(a short sentence decodes in well under a second).

The utterance is resampled to the model's 16 kHz and given a faint, fixed noise floor before
decoding: pocketsphinx's features take the logarithm of each frame's energy, and runs of exact
digital zeros (synthetic speech, padded test audio) throw its normalisation off badly enough
to garble the words next to them. Real microphones never produce them; the added noise
(about -54 dBFS) is far below any voice.

Optional: ``pocketsphinx`` comes with the ``voice`` extra (``pip install navtalk_sync[voice]``);
``available()`` says whether it is installed, and ``PocketsphinxEar()`` raises ImportError
without it.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from typing import Any, Callable

import numpy as np

from ..logs import get_logger
from .samples import as_pcm16, resample

__all__ = ["Recognizer", "PocketsphinxEar", "available", "INSTALL_HINT"]

log = get_logger(__name__)

#: A speech recognizer: (int16 mono samples, sample rate in Hz) -> the words heard ("" if none).
Recognizer = Callable[[np.ndarray, int], str]

#: What to tell a user who lacks the package.
INSTALL_HINT = "pip install navtalk_sync[voice]"

#: The model's rate.
MODEL_RATE = 16000
_NOISE_RMS = 64.0  # PCM16 units: about -54 dBFS
_NOISE_SEED = 20240611  # fixed: the same audio is always heard the same way


def available() -> bool:
    """True when ``pocketsphinx`` (with its en-US model) is installed."""
    return importlib.util.find_spec("pocketsphinx") is not None


class PocketsphinxEar:
    """pocketsphinx's en-US model, loaded at the first utterance, one utterance at a time."""

    def __init__(self) -> None:
        if not available():
            raise ImportError(f"PocketsphinxEar needs the pocketsphinx package: {INSTALL_HINT}")
        self._lock = threading.Lock()
        self._decoder: Any = None
        self._noise = np.random.default_rng(_NOISE_SEED).normal(0.0, _NOISE_RMS, MODEL_RATE * 60)

    def __call__(self, samples: np.ndarray, sample_rate: int) -> str:
        audio = resample(as_pcm16(samples), sample_rate, MODEL_RATE)
        if audio.size == 0:
            return ""
        audio = self._with_noise_floor(audio)
        with self._lock:
            decoder = self._loaded()
            decoder.start_utt()
            decoder.process_raw(audio.tobytes(), full_utt=True)
            decoder.end_utt()
            hypothesis = decoder.hyp()
        return hypothesis.hypstr.strip() if hypothesis is not None else ""

    def _with_noise_floor(self, audio: np.ndarray) -> np.ndarray:
        noise = np.resize(self._noise, audio.size)  # repeats the fixed noise for long audio
        return np.clip(audio + noise, -32768, 32767).astype(np.int16)

    def _loaded(self) -> Any:
        if self._decoder is None:
            from pocketsphinx import Decoder  # optional: only with the ``voice`` extra

            started = time.perf_counter()
            self._decoder = Decoder(samprate=MODEL_RATE, logfn="/dev/null")
            log.debug("pocketsphinx model loaded in %.2f s", time.perf_counter() - started)
        return self._decoder

    def __repr__(self) -> str:
        return "PocketsphinxEar()"

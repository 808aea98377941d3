"""What the user said: offline speech recognition with pocketsphinx and its bundled en-US model.

A recognizer is any callable ``(samples, sample_rate) -> text`` taking one utterance as a 1-D
int16 array. It runs on a worker thread, never on the server's event loop, so it may block.

``PocketsphinxEar`` decodes in a child process of its own (``ear_worker``): pocketsphinx holds
the GIL for the whole decoding, about a second for a short sentence, which froze the server's
video for as long. The process starts at the first utterance (it loads the model, about 0.6 s
and some 50 MB, once) and decodes one utterance at a time behind a lock: the server shares one
ear across its sessions. ``close()`` ends it.

The utterance is resampled to the model's 16 kHz and given a faint, fixed noise floor before
decoding: pocketsphinx's features take the logarithm of each frame's energy, and runs of exact
digital zeros (synthetic speech, padded test audio) throw its normalisation off badly enough
to garble the words next to them. Real microphones never produce them; the added noise
(about -54 dBFS) is far below any voice.

Optional: ``pocketsphinx`` comes with the ``voice`` extra (``pip install 'navtalk-sync[voice]'``);
``available()`` says whether it is installed, and ``PocketsphinxEar()`` raises ImportError
without it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import struct
import subprocess
import sys
import threading
import time
from typing import Callable

import numpy as np

from ..logs import get_logger
from . import ear_worker
from .samples import as_pcm16, resample

__all__ = ["Recognizer", "PocketsphinxEar", "available", "INSTALL_HINT"]

log = get_logger(__name__)

#: A speech recognizer: (int16 mono samples, sample rate in Hz) -> the words heard ("" if none).
Recognizer = Callable[[np.ndarray, int], str]

#: What to tell a user who lacks the package.
INSTALL_HINT = "pip install 'navtalk-sync[voice]'"

#: The model's rate.
MODEL_RATE = 16000
#: Seconds the worker has to end once its input is closed, before it is killed.
WORKER_EXIT_WAIT = 2.0
_NOISE_RMS = 64.0  # PCM16 units: about -54 dBFS
_NOISE_SEED = 20240611  # fixed: the same audio is always heard the same way


def available() -> bool:
    """True when ``pocketsphinx`` (with its en-US model) is installed."""
    return importlib.util.find_spec("pocketsphinx") is not None


class PocketsphinxEar:
    """pocketsphinx's en-US model in a worker process started at the first utterance, one
    utterance at a time."""

    def __init__(self) -> None:
        if not available():
            raise ImportError(f"PocketsphinxEar needs the pocketsphinx package: {INSTALL_HINT}")
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._closed = False
        self._noise = np.random.default_rng(_NOISE_SEED).normal(0.0, _NOISE_RMS, MODEL_RATE * 60)

    def __call__(self, samples: np.ndarray, sample_rate: int) -> str:
        audio = resample(as_pcm16(samples), sample_rate, MODEL_RATE)
        if audio.size == 0:
            return ""
        payload = self._with_noise_floor(audio).tobytes()
        with self._lock:
            for _ in range(2):  # a worker that died is started again, once
                if self._closed:
                    return ""
                worker = self._worker()
                try:
                    assert worker.stdin is not None and worker.stdout is not None
                    worker.stdin.write(struct.pack(">I", len(payload)) + payload)
                    worker.stdin.flush()
                    line = worker.stdout.readline()
                except OSError:
                    line = b""
                if line:
                    return line.decode("utf-8", "replace").strip()
                log.warning("the pocketsphinx worker ended (exit code %s)", worker.poll())
                self._stop_worker()
        return ""

    def _with_noise_floor(self, audio: np.ndarray) -> np.ndarray:
        noise = np.resize(self._noise, audio.size)  # repeats the fixed noise for long audio
        return np.clip(audio + noise, -32768, 32767).astype(np.int16)

    def _worker(self) -> subprocess.Popen[bytes]:
        """(under the lock) The decoding process, started at the first utterance."""
        if self._process is None or self._process.poll() is not None:
            started = time.perf_counter()
            self._process = subprocess.Popen(
                # by path: ``-m`` would import the whole package (aiortc, av) first
                [sys.executable, ear_worker.__file__],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            log.debug("pocketsphinx worker started in %.2f s", time.perf_counter() - started)
        return self._process

    def warm(self) -> None:
        """Start the worker now (without waiting for it), so that the first utterance does
        not wait for its start: the server calls it when speech starts."""
        if self._closed or not self._lock.acquire(blocking=False):
            return  # busy decoding: the worker is up
        try:
            self._worker()
        finally:
            self._lock.release()

    def _stop_worker(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(WORKER_EXIT_WAIT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def close(self) -> None:
        """End the worker process (the server's ``stop()`` calls it); a later utterance is
        not heard. A decoding under way is cut short: the process is killed outside the lock
        its caller holds, so a stuck worker cannot hold ``close()`` up."""
        self._closed = True
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                process.kill()  # a caller in readline() gets end-of-file at once
        with self._lock:
            self._stop_worker()

    def __enter__(self) -> PocketsphinxEar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "PocketsphinxEar()"

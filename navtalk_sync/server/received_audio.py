"""The user's audio as the server received it: one connection's PCM, bounded, thread-safe.

The session (on the event loop) appends each decoded ``input_audio_buffer.append`` payload;
the recogniser (on a worker thread) reads utterances back by sample position; tests read it all
through ``LocalServer.received_audio()``, also after the connection ended.

Bounded at ``MAX_SECONDS`` of audio: beyond it the oldest audio is dropped (in steps of
``TRIM_SECONDS``, so a long session does not move the buffer at every chunk) and counted in
``dropped_samples``. Positions stay absolute: sample ``n`` is the ``n``-th sample ever received.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["ReceivedAudio", "SAMPLE_RATE", "MAX_SECONDS"]

#: The uplink's rate (protocol.md#audio-format): PCM16 little-endian mono.
SAMPLE_RATE = 24000
#: The most audio kept per connection (10 minutes, about 29 MB).
MAX_SECONDS = 600
#: How much is dropped at a time once the bound is passed.
TRIM_SECONDS = 30


class ReceivedAudio:
    """One connection's received PCM16 (the latest ``max_seconds`` of it)."""

    def __init__(self, max_seconds: float = MAX_SECONDS, trim_seconds: float = TRIM_SECONDS):
        self._lock = threading.Lock()
        self._pcm = bytearray()
        self._max_bytes = int(max_seconds * SAMPLE_RATE) * 2
        self._trim_bytes = max(2, int(trim_seconds * SAMPLE_RATE) * 2)
        self.dropped_samples = 0

    def append(self, pcm: bytes) -> np.ndarray:
        """Keep ``pcm`` (an even number of bytes); its samples as int16."""
        if len(pcm) % 2:
            raise ValueError("PCM16 needs an even number of bytes")
        with self._lock:
            self._pcm += pcm
            excess = len(self._pcm) - self._max_bytes
            if excess > 0:
                cut = min(len(self._pcm), max(excess, self._trim_bytes))
                del self._pcm[:cut]
                self.dropped_samples += cut // 2
        return np.frombuffer(pcm, dtype="<i2").astype(np.int16)

    def received(self) -> bytes:
        """The PCM kept (everything received unless more than the bound arrived)."""
        with self._lock:
            return bytes(self._pcm)

    def samples(self, start: int, end: int) -> np.ndarray:
        """Samples ``start`` to ``end`` (absolute positions), clipped to what is kept."""
        with self._lock:
            first = max(0, start - self.dropped_samples) * 2
            last = max(0, end - self.dropped_samples) * 2
            piece = bytes(self._pcm[first:last])
        return np.frombuffer(piece, dtype="<i2").astype(np.int16)

"""Transparency mode (protocol.md#transparency): the audio a client pushes for the avatar to say.

With ``model=transparency`` the client brings its own voice: ``input_audio_buffer.append``
chunks collect here until ``commit`` hands them to the avatar's media as one utterance, or
``clear`` drops them. No brain, no recognition.

Bounded at ``MAX_SECONDS`` of uncommitted audio: beyond it the oldest chunks are dropped (a
client that never commits keeps only its latest speech) and counted in ``dropped_samples``.
"""

from __future__ import annotations

import collections

import numpy as np

__all__ = ["PushedAudio", "MAX_SECONDS"]

#: The most uncommitted audio kept, in seconds of 24 kHz PCM16.
MAX_SECONDS = 60.0
_RATE = 24000


class PushedAudio:
    """Uncommitted 24 kHz PCM16 chunks, oldest first."""

    def __init__(self, max_seconds: float = MAX_SECONDS) -> None:
        self._chunks: collections.deque[np.ndarray] = collections.deque()
        self._samples = 0
        self._limit = int(max_seconds * _RATE)
        self.dropped_samples = 0

    def add(self, samples: np.ndarray) -> None:
        """Keep a chunk; drop the oldest ones while over the bound."""
        if samples.size == 0:
            return
        self._chunks.append(samples)
        self._samples += samples.size
        while self._samples > self._limit and len(self._chunks) > 1:
            dropped = self._chunks.popleft()
            self._samples -= dropped.size
            self.dropped_samples += dropped.size

    def take(self) -> np.ndarray:
        """Everything kept, as one array; the buffer is empty afterwards."""
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        self.clear()
        return samples

    def clear(self) -> None:
        """Drop everything kept."""
        self._chunks.clear()
        self._samples = 0

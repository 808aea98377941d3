"""The speaker's queue and clock: what to play next, and when to write it. No I/O here.

``PlaybackQueue`` is the bounded jitter queue between ``Speaker.play()`` and the speaker thread;
``Pacer`` keeps that thread from writing faster than real time to devices that do not pace it.
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

__all__ = ["Pacer", "PlaybackQueue"]


class PlaybackQueue:
    """Input PCM waiting for the device: bounded, drops the oldest, gated by the prebuffer.

    Every method holds one lock only for a few list operations, so ``put()`` never waits on
    the speaker thread. Counts are in frames at the input rate.
    """

    def __init__(self, capacity: int, prebuffer: int, prebuffer_seconds: float) -> None:
        self._lock = threading.Lock()
        self._chunks: deque[np.ndarray] = deque()
        self._queued = 0
        self._capacity = max(1, capacity)
        self._prebuffer = prebuffer
        self._prebuffer_seconds = prebuffer_seconds
        self._playing = False  # False: gathering the prebuffer after a dry spell
        self._waiting_since: float | None = None
        self._closed = False
        self._played = self._dropped = self._flushed = self._underruns = self._flushes = 0

    def put(self, frames: np.ndarray) -> int:
        """Append ``frames``; returns how many old frames were dropped to make room."""
        with self._lock:
            if self._closed:
                return 0
            self._chunks.append(frames)
            self._queued += len(frames)
            excess = max(0, self._queued - self._capacity)
            self._drop_oldest(excess)
            self._dropped += excess
            return excess

    def _drop_oldest(self, count: int) -> None:
        while count > 0:
            head = self._chunks[0]
            if len(head) <= count:
                self._chunks.popleft()
                taken = len(head)
            else:
                self._chunks[0] = head[count:]
                taken = count
            self._queued -= taken
            count -= taken

    def take(self, max_frames: int) -> np.ndarray | None:
        """Up to ``max_frames`` to play now, or None: nothing queued, or still prebuffering."""
        with self._lock:
            if self._closed:
                return None
            if not self._queued:
                if self._playing:
                    self._playing = False
                    self._underruns += 1
                return None
            if not self._playing and not self._prebuffered():
                return None
            self._playing = True
            return self._pop(max_frames)

    def _prebuffered(self) -> bool:
        now = time.monotonic()
        if self._waiting_since is None:
            self._waiting_since = now
        if self._queued >= self._prebuffer or now - self._waiting_since >= self._prebuffer_seconds:
            self._waiting_since = None
            return True
        return False

    def _pop(self, max_frames: int) -> np.ndarray:
        parts: list[np.ndarray] = []
        wanted = max_frames
        while wanted and self._chunks:
            head = self._chunks[0]
            if len(head) <= wanted:
                parts.append(self._chunks.popleft())
            else:
                parts.append(head[:wanted])
                self._chunks[0] = head[wanted:]
            wanted -= len(parts[-1])
        taken = max_frames - wanted
        self._queued -= taken
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def clear(self) -> int:
        """Drop everything queued (a flush); returns how many frames were dropped."""
        with self._lock:
            flushed = self._queued
            self._chunks.clear()
            self._queued = 0
            # A flush is not an underrun; the next audio gathers a fresh prebuffer.
            self._playing = False
            self._waiting_since = None
            self._flushed += flushed
            self._flushes += 1
            return flushed

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._chunks.clear()
            self._queued = 0

    def count_played(self, frames: int) -> None:
        with self._lock:
            self._played += frames

    def counts(self) -> dict[str, int]:
        with self._lock:
            return {
                "played": self._played,
                "queued": self._queued,
                "dropped": self._dropped,
                "flushed": self._flushed,
                "underruns": self._underruns,
                "flushes": self._flushes,
            }


class Pacer:
    """Keeps a writer at most ``lead`` seconds ahead of the wall clock.

    A sound card paces a blocking writer by itself: while it does, the writer is never ahead
    of real time and the pacer never asks it to wait. A virtual device (an ALSA ``file`` or
    ``null`` PCM) takes everything at once; the pacer then holds the writer to real time.
    """

    #: Wall-clock seconds are credited 0.1 % generously: a device clock may run that much fast.
    SLACK = 1.001

    def __init__(self, lead: float) -> None:
        self._lead = lead
        self._ahead = 0.0
        self._last = time.monotonic()

    def _catch_up(self) -> None:
        now = time.monotonic()
        self._ahead = max(0.0, self._ahead - (now - self._last) * self.SLACK)
        self._last = now

    def delay(self) -> float:
        """Seconds to wait before the next write."""
        self._catch_up()
        return max(0.0, self._ahead - self._lead)

    def wrote(self, seconds: float) -> None:
        self._catch_up()
        self._ahead += seconds

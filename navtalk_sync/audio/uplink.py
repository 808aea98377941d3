"""The sending side of the user's audio: streams -> ordered pieces -> the gate -> the socket.

* ``AudioStream`` is one source of audio (``send_audio()`` makes one per call; the
  microphone keeps one): its own ``Converter`` (resampler state carried across writes) and
  ``Chunker``. Its ``write()`` is thread-safe and is the microphone's entry point: it takes
  raw device PCM (any dtype, rate and channel count) with ``block=False``.
* ``AudioUplink`` owns a bounded queue of pieces and control messages (commit, clear) and one
  ``navtalk-uplink`` thread that hands them, strictly in order, to the session's socket.

The gate (protocol.md#audio-gate): pieces wait in the queue until the session says audio may
flow (``realtime.session.updated``, and ICE connected if ``audio_wait_for_media``). The
queue holds ``audio_hold_seconds`` of audio, before the gate opens or behind a slow socket:
a piece is handed to the socket only when at most ``AUDIO_AHEAD`` frames wait there.
When it is full:

* a blocking write (``block=True``: ``send_audio``, ``send_file``, ``commit_audio``...) waits
  up to ``send_timeout`` for room, then raises ``NavTalkTimeout``; what it queued before
  goes out, the rest of that call does not;
* a non-blocking write (``block=False``: the microphone) drops the oldest queued audio
  piece, never a control message; drops are counted (``audio_chunks_dropped``) and logged.

Once the session has ended, writes raise ``NotConnected`` and queued pieces are discarded
(counted in ``audio_chunks_discarded``).
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from typing import Any, Callable, Mapping, Protocol

import numpy as np

from .. import messages
from ..errors import InvalidArgument, NavTalkError, NavTalkTimeout, NotConnected
from ..logs import RepeatLimiter, get_logger
from ..options import AudioOptions
from ..session_rules import AudioGate
from ..threads import LibraryThread
from ..timeouts import Deadline
from .audiofile import open_audio_file
from .pcm import UPLINK_RATE, Chunker, Converter

__all__ = [
    "AudioGate",
    "AudioStream",
    "AudioUplink",
    "send_file",
]

log = get_logger(__name__)

THREAD_NAME = "navtalk-uplink"


#: How long one hand-over to the socket may wait before the thread looks at the gate again.
_SEND_SLICE = 0.1
#: Frames that may wait for the socket before a piece of audio is handed over: audio held
#: back waits in this module's queue, where ``audio_hold_seconds`` bounds it and the
#: microphone's policy applies, not in the socket's queue (256 frames, 16 s of audio).
AUDIO_AHEAD = 4


class UplinkSession(Protocol):
    """What the uplink needs of a ``Session``."""

    def audio_gate(self) -> AudioGate: ...

    def send(self, message: Mapping[str, Any], timeout: float | None = None) -> None: ...

    def add_state_watcher(self, watcher: Callable[[], None]) -> None: ...

    def wait_backlog(self, frames: int, timeout: float) -> bool: ...


class _Piece:
    """One queued item: a message ready to send, and the audio it carries (0 for control)."""

    __slots__ = ("message", "pcm", "pcm_bytes")

    def __init__(self, message: dict[str, Any], pcm: bytes = b"") -> None:
        self.message = message
        self.pcm = pcm  # kept for the tap (``on_sent``)
        self.pcm_bytes = len(pcm)


class AudioUplink:
    """The ordered, gated, bounded path from audio streams to the session's socket."""

    def __init__(self, options: AudioOptions, send_timeout: float) -> None:
        self.chunk_samples = options.chunk_samples
        self._send_timeout = send_timeout
        chunks = options.hold_seconds * UPLINK_RATE / options.chunk_samples
        self._capacity = max(1, math.ceil(chunks))
        self._cond = threading.Condition()
        self._queue: deque[_Piece] = deque()
        self._session: UplinkSession | None = None
        self._thread: threading.Thread | None = None
        self._in_flight = False
        self._stopping = False  # close() began: deliver what the deadline allows, then stop
        self._abandon = False  # close()'s deadline passed: stop now
        self._closed = False
        self.chunks_sent = 0
        self.bytes_sent = 0
        self.chunks_dropped = 0
        self.chunks_discarded = 0
        self.max_depth = 0
        self._drop_warning = RepeatLimiter(log)
        self._on_sent: Callable[[bytes], None] | None = None

    # ------------------------------------------------------------------ wiring

    def attach(self, session: UplinkSession) -> None:
        """Start sending to ``session`` (once its gate opens) on the ``navtalk-uplink`` thread."""
        with self._cond:
            if self._closed or self._session is not None:
                return
            self._session = session
        # outside our lock: the session calls watchers under its own
        session.add_state_watcher(self._wake)
        with self._cond:
            if self._stopping:  # close() came first: nothing to start
                return
            self._thread = LibraryThread(target=self._run, name=THREAD_NAME)
            self._thread.start()

    def on_sent(self, fn: Callable[[bytes], None]) -> None:
        """Call ``fn(pcm16)`` on the ``navtalk-uplink`` thread with each piece of audio once it
        is handed to the socket (24 kHz mono PCM16LE); it must return at once. If it raises,
        it is logged and not called again: sending matters more."""
        self._on_sent = fn

    def stream(self, name: str = "stream") -> AudioStream:
        """A new stream of audio into this uplink (for example the microphone's)."""
        return AudioStream(self, name)

    def _wake(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _gate(self) -> AudioGate:
        if self._closed:
            return AudioGate.ENDED
        session = self._session
        return AudioGate.HOLD if session is None else session.audio_gate()

    # ------------------------------------------------------------------ queueing

    def put_audio(self, pcm16: bytes, block: bool = True) -> None:
        """Queue one piece of 24 kHz mono PCM16LE (see the module text for a full queue)."""
        self._put(_Piece(messages.audio_append(pcm16), pcm16), block)

    def commit(self, tail: np.ndarray) -> None:
        """Queue ``tail`` (24 kHz int16 silence), then ``input_audio_buffer.commit``."""
        chunker = Chunker(self.chunk_samples)
        for piece in [*chunker.push(tail), chunker.flush()]:
            if piece:
                self.put_audio(piece)
        self._put(_Piece(messages.audio_commit()), block=True)

    def clear(self) -> int:
        """Discard the audio still queued here, then queue ``input_audio_buffer.clear``.

        Returns how many queued pieces were discarded. Control messages stay queued.
        """
        with self._cond:
            kept = deque(p for p in self._queue if not p.pcm_bytes)
            discarded = len(self._queue) - len(kept)
            self._queue = kept
            self.chunks_discarded += discarded
            self._cond.notify_all()
        self._put(_Piece(messages.audio_clear()), block=True)
        return discarded

    def _put(self, piece: _Piece, block: bool) -> None:
        deadline = Deadline(self._send_timeout)
        with self._cond:
            while True:
                if self._gate() == AudioGate.ENDED or self._stopping:
                    raise NotConnected("the session has ended; the audio was not sent")
                if len(self._queue) < self._capacity:
                    break
                if not block:
                    self._drop_oldest_audio()
                    break
                remaining = deadline.remaining()
                if remaining <= 0:
                    raise NavTalkTimeout(
                        "room in the audio queue",
                        self._send_timeout,
                        f"{len(self._queue)} pieces waiting (state: {self._gate()})",
                    )
                self._cond.wait(remaining)
            self._queue.append(piece)
            self.max_depth = max(self.max_depth, len(self._queue))
            self._cond.notify_all()

    def _drop_oldest_audio(self) -> None:
        for index, queued in enumerate(self._queue):
            if queued.pcm_bytes:
                del self._queue[index]
                self.chunks_dropped += 1
                self._drop_warning.warning(
                    "audio queue full (state: %s): dropped the oldest piece (%d so far)",
                    self._gate(),
                    self.chunks_dropped,
                )
                return

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        while True:
            piece = self._next_piece()
            if piece is None:
                return
            try:
                self._deliver(piece)
            except Exception:  # a bug, not the network: say so, drop the piece, go on
                log.exception("sending a piece of audio failed")
                with self._cond:
                    self.chunks_discarded += 1 if piece.pcm_bytes else 0
            finally:
                with self._cond:
                    self._in_flight = False
                    self._cond.notify_all()

    def _next_piece(self) -> _Piece | None:
        """The next piece once the gate is open; None when the thread should stop."""
        with self._cond:
            while True:
                gate = self._gate()
                if gate == AudioGate.ENDED and self._queue:
                    self.chunks_discarded += sum(1 for p in self._queue if p.pcm_bytes)
                    self._queue.clear()
                    self._cond.notify_all()
                sendable = gate == AudioGate.OPEN and bool(self._queue)
                if self._abandon or (self._stopping and not sendable):
                    return None
                if sendable:
                    self._in_flight = True
                    piece = self._queue.popleft()
                    self._cond.notify_all()
                    return piece
                self._cond.wait(0.5)

    def _deliver(self, piece: _Piece) -> None:
        """Hand one piece to the socket; a full socket queue is waited out, never skipped."""
        session = self._session
        assert session is not None
        while True:
            if piece.pcm_bytes and not session.wait_backlog(AUDIO_AHEAD, _SEND_SLICE):
                if self._abandon or self._gate() != AudioGate.OPEN:
                    break
                continue  # a slow socket: the audio waits here, in the bounded queue
            try:
                session.send(piece.message, _SEND_SLICE)
            except NavTalkTimeout:
                if self._abandon or self._gate() != AudioGate.OPEN:
                    break
                continue  # a slow socket: keep the order, try again
            except NavTalkError as exc:
                log.debug("audio not sent: %s", exc)
                break
            else:
                if piece.pcm_bytes:
                    self.chunks_sent += 1
                    self.bytes_sent += piece.pcm_bytes
                    self._tell_sent(piece.pcm)
                return
        if piece.pcm_bytes:
            with self._cond:
                self.chunks_discarded += 1

    def _tell_sent(self, pcm: bytes) -> None:
        listener = self._on_sent
        if listener is None:
            return
        try:
            listener(pcm)
        except Exception:
            self._on_sent = None
            log.exception("the uplink's listener raised; it is no longer told what is sent")

    # ------------------------------------------------------------------ waiting and closing

    def wait_sent(self, timeout: float) -> None:
        """Block until everything queued so far was handed to the socket."""
        deadline = Deadline(timeout)
        with self._cond:
            while self._queue or self._in_flight:
                if self._gate() == AudioGate.ENDED:
                    raise NotConnected("the session has ended before the audio was sent")
                remaining = deadline.remaining()
                if remaining <= 0:
                    raise NavTalkTimeout(
                        "the queued audio to be sent", timeout, f"{len(self._queue)} pieces left"
                    )
                self._cond.wait(min(remaining, 0.5))

    def wait_closed(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True at once if the uplink is closing (for pacing loops)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._stopping, seconds)

    def close(self, deadline: Deadline) -> None:
        """Send what is queued while ``deadline`` allows (gate open), then stop and join the
        thread. Called again, it joins a thread the first call left running."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(deadline.remaining(0.7))  # the rest of the time is for stopping
            with self._cond:
                self._abandon = True
                self._cond.notify_all()
            thread.join(deadline.remaining())
        with self._cond:
            self._closed = True
            self.chunks_discarded += sum(1 for p in self._queue if p.pcm_bytes)
            self._queue.clear()
            self._cond.notify_all()

    def stats(self) -> dict[str, Any]:
        with self._cond:
            depth = len(self._queue)
        return {
            "audio_chunks_sent": self.chunks_sent,
            "audio_seconds_sent": self.bytes_sent / 2 / UPLINK_RATE,
            "audio_chunks_dropped": self.chunks_dropped,
            "audio_chunks_discarded": self.chunks_discarded,
            "audio_queue_depth": depth,
            "audio_queue_max_depth": self.max_depth,
        }


class AudioStream:
    """One source of audio: converted with its own resampler, cut into ordered pieces.

    ``write()`` may be called from any thread (calls are serialised); pieces of one stream
    keep their order, pieces of different streams interleave piece by piece.
    """

    def __init__(self, uplink: AudioUplink, name: str) -> None:
        self.name = name
        self._uplink = uplink
        self._lock = threading.Lock()
        self._converter = Converter()
        self._chunker = Chunker(uplink.chunk_samples)

    def __repr__(self) -> str:
        return f"<AudioStream {self.name!r}>"

    def write(
        self,
        samples: Any,
        sample_rate: int = UPLINK_RATE,
        channels: int | None = None,
        *,
        block: bool = True,
    ) -> None:
        """Convert and queue audio: bytes (PCM16LE) or a numpy array of any accepted dtype,
        1-D or ``(frames, channels)``, at ``sample_rate``.

        Whole pieces are queued now; a remainder waits for the next write or ``flush()``.
        Bad audio raises ``InvalidArgument`` before anything of it is queued.
        """
        if not isinstance(block, bool):
            raise InvalidArgument(f"block must be True or False, got {block!r}")
        with self._lock:
            pcm = self._converter.convert(samples, sample_rate, channels)
            self._queue(self._chunker.push(pcm), block)

    def flush(self, *, block: bool = True) -> None:
        """Queue everything still held (the resampler's last samples, a short last piece)."""
        with self._lock:
            pieces = self._chunker.push(self._converter.finish())
            tail = self._chunker.flush()
            self._queue([*pieces, *([tail] if tail else [])], block)

    def _queue(self, pieces: list[bytes], block: bool) -> None:
        for piece in pieces:
            self._uplink.put_audio(piece, block)


#: How far ahead of real time a paced file may be queued (a little slack against scheduling).
_PACING_LEAD = 0.1


def send_file(uplink: AudioUplink, path: str | os.PathLike[str], realtime: bool = True) -> float:
    """Decode ``path`` with PyAV and queue its first audio stream, in the caller's thread.

    With ``realtime`` the audio is queued no faster than it plays (a file then sounds like a
    microphone to the server's VAD); without, as fast as the queue takes it. Returns the
    seconds of audio queued. A missing or undecodable file raises ``InvalidArgument`` before
    anything of it is queued; ``close()`` from another thread stops a paced send promptly
    (``NotConnected``).
    """
    with open_audio_file(path) as audio:
        stream = uplink.stream(f"file {os.path.basename(audio.path)}")
        started = time.monotonic()
        frames = 0
        for block in audio.blocks():
            stream.write(block, audio.sample_rate)
            frames += len(block)
            if realtime:
                ahead = frames / audio.sample_rate - (time.monotonic() - started) - _PACING_LEAD
                if ahead > 0 and uplink.wait_closed(ahead):
                    raise NotConnected("the client was closed while sending a file")
        stream.flush()
        return frames / audio.sample_rate

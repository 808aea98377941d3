"""One live session for row 8: media on, frames to a consumer, stamped deltas timed.

A ``LiveSession`` is a ``NavTalkClient`` with media on (the local server's 512x512 face at
25 fps and its voice) whose ``on_video_frame`` callback counts the frames it gets (so every
frame is converted to RGB, as for a user who shows the picture), and whose reply-text callback
records each stamped delta's latency (``stamp_latency``: server write -> our callback). The
figures count only inside a window (``start_window()`` ... ``stop_window()``, then
``figures()``), so connecting and tearing down are not in them.

Run as ``python -m bench.side_by_side.live_session URL``, it is the child of the row's
N-process mode: it connects, prints ``ready``, and answers its stdin: ``start`` opens the
window (answered ``started``), ``stop`` closes it, ``figures COUNT`` prints ``result {json}``
(a ``WindowFigures``, once COUNT stamps arrived or ``TAIL_TIMEOUT`` passed). It closes and
exits when its stdin closes.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import attrs

import navtalk_sync as nt
from navtalk_sync.events import ResponseTranscriptDelta
from navtalk_sync.server.stamps import STAMP_RESPONSE_ID, stamp_latency
from tests.rigs.footprint import cpu_seconds

CONNECT_TIMEOUT = 60.0  # generous: at the breaking point the machine is saturated
#: How long ``figures()`` waits for stamps still on their way.
TAIL_TIMEOUT = 3.0


@attrs.frozen
class WindowFigures:
    """What one session saw in one window."""

    latencies: list[float]  # seconds, one per stamped delta received
    fps: float  # frames the video callback got per second
    decoded_fps: float  # frames aiortc decoded per second (fps is less when the consumer lags)
    cpu: float  # this process's CPU over the window, in cores (only meaningful in a child)


class LiveSession:
    """A connected client with media on; ``connect()``, then windows, then ``close()``."""

    def __init__(self, url: str) -> None:
        self._client = nt.NavTalkClient("sk_bench", url=url, avatar_name="navtalk.Leo")
        self._frames = 0
        self._latencies: list[float] = []
        self._stamps_arrived = threading.Condition()
        self._client.on_video_frame(self._count_frame)
        self._client.on(ResponseTranscriptDelta, self._time_stamp)
        self._window_start = (0.0, 0, 0, 0.0)  # wall, frames, frames decoded, CPU
        self._window_rates = (0.0, 0.0, 0.0)  # fps, decoded fps, CPU in cores

    def connect(self, timeout: float = CONNECT_TIMEOUT) -> None:
        self._client.connect(timeout=timeout)
        self._client.wait_for_video(timeout=timeout)

    def start_window(self) -> None:
        with self._stamps_arrived:
            self._latencies = []
        self._window_start = (time.monotonic(), self._frames, self._decoded(), cpu_seconds())

    def stop_window(self) -> None:
        """Close the window: frames and CPU count up to here."""
        wall, frames, decoded, cpu = self._window_start
        elapsed = time.monotonic() - wall
        self._window_rates = (
            (self._frames - frames) / elapsed,
            (self._decoded() - decoded) / elapsed,
            (cpu_seconds() - cpu) / elapsed,
        )

    def figures(self, stamps: int) -> WindowFigures:
        """The closed window's figures, once ``stamps`` stamps arrived (or ``TAIL_TIMEOUT``
        passed: those still on their way are not counted)."""
        with self._stamps_arrived:
            self._stamps_arrived.wait_for(lambda: len(self._latencies) >= stamps, TAIL_TIMEOUT)
            latencies = list(self._latencies)
        return WindowFigures(latencies, *self._window_rates)

    def close(self) -> None:
        self._client.close(timeout=5)

    def _decoded(self) -> int:
        return int(self._client.stats()["video_frames_received"])

    def _count_frame(self, _frame: object) -> None:
        self._frames += 1  # only the navtalk-video thread writes it

    def _time_stamp(self, event: ResponseTranscriptDelta) -> None:
        if event.response_id != STAMP_RESPONSE_ID:
            return
        latency = stamp_latency(event.text)
        with self._stamps_arrived:
            self._latencies.append(latency)
            self._stamps_arrived.notify_all()


def child(url: str) -> int:
    """The N-process mode's child: one session driven by commands on stdin."""
    session = LiveSession(url)
    try:
        session.connect()
        print("ready", flush=True)
        for line in sys.stdin:
            name, *arguments = line.split()
            if name == "start":
                session.start_window()
                print("started", flush=True)  # the parent sends stamps only after this
            elif name == "stop":
                session.stop_window()
            elif name == "figures":
                figures = session.figures(int(arguments[0]))
                print("result " + json.dumps(attrs.asdict(figures)), flush=True)
    finally:
        session.close()
    return 0


if __name__ == "__main__":
    sys.exit(child(sys.argv[1]))

"""Row 6, memory: a live session's resident memory over two minutes, with a slow video consumer
and with none, beside the bare asyncio + aiortc client with an equally slow consumer.

The local server (a ``ServerProcess``) sends its 512x512 face at 25 fps with its voice track.
Each case is a client alone in a child process of its own (``python -m
bench.side_by_side.memory CASE URL``), so its RSS is that client's and nothing else's; the
three run at the same time, so the row takes the two minutes once:

* ``slow``: ``NavTalkClient`` with an ``on_video_frame`` callback that takes 200 ms a frame
  (5 fps of 25; the library keeps the newest frame and drops the rest, counted);
* ``none``: ``NavTalkClient`` with media on and no consumer;
* ``baseline``: ``websockets`` + an aiortc answerer by hand (like ``bare_asyncio.py``), the
  audio track drained, the video track read by ``await track.recv()`` then 200 ms of work
  (``asyncio.sleep``): aiortc queues every decoded frame behind a slow ``recv()``, unbounded.

A child prints ``ready`` once its first video frame arrived, runs until its stdin closes, then
prints one JSON line of what it saw. This process samples each child's VmRSS from ``/proc``
meanwhile. Figures: RSS once the warm-up (15 s) is over, its growth from there to the end, and
the least-squares slope over that span.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

import attrs

from .plan import Plan
from .report import Figures, Measure, progress

CASES = ("slow", "none", "baseline")
#: How long the slow consumers take per frame (5 fps of the server's 25).
CONSUMER_SECONDS = 0.2
#: The target: growth with the slow consumer (issue 9).
GROWTH_LIMIT_MB = 10.0
BASELINE_NAME = "aiortc by hand, slow recv()"


# -- the children ---------------------------------------------------------------------------


def _ours(url: str, slow: bool) -> dict[str, Any]:
    import navtalk_sync as nt

    with nt.NavTalkClient("sk_bench", url=url, avatar_name="navtalk.Leo") as client:
        if slow:
            client.on_video_frame(lambda frame: time.sleep(CONSUMER_SECONDS))
        client.connect(timeout=30)
        client.wait_for_video(timeout=30)
        print("ready", flush=True)
        sys.stdin.read()
        stats = client.stats()
    keys = ("video_frames_received", "video_frames_delivered", "video_frames_dropped")
    return {key: stats.get(key) for key in keys}


async def _baseline(url: str) -> dict[str, Any]:
    import websockets
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    from navtalk_sync import messages
    from navtalk_sync.rtc.ice import configuration

    counts = {"video_frames_consumed": 0}
    first_frame = asyncio.get_running_loop().create_future()
    pc = RTCPeerConnection(configuration())

    async def consume(track: Any) -> None:
        try:
            while True:
                frame = await track.recv()
                if track.kind != "video":
                    continue
                frame.to_ndarray(format="rgb24")
                if not first_frame.done():
                    first_frame.set_result(None)
                counts["video_frames_consumed"] += 1
                await asyncio.sleep(CONSUMER_SECONDS)  # the user's slow work on the frame
        except MediaStreamError:
            pass

    tasks: list[asyncio.Task[None]] = []
    pc.on("track", lambda track: tasks.append(asyncio.ensure_future(consume(track))))
    async with websockets.connect(f"{url}?license=sk_bench&name=navtalk.Leo") as ws:
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "webrtc.signaling.offer":
                offer = RTCSessionDescription(message["data"]["sdp"]["sdp"], "offer")
                await pc.setRemoteDescription(offer)
                await pc.setLocalDescription(await pc.createAnswer())
                await ws.send(messages.encode(messages.signaling_answer(pc.localDescription.sdp)))
                break
        await asyncio.wait_for(first_frame, 30)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await pc.close()
    for task in tasks:
        task.cancel()
    return counts


def child(case: str, url: str) -> None:
    """One case, in this process: connect, say ``ready``, run until stdin closes, report."""
    from navtalk_sync.rtc.ice import restrict_host_candidates

    restrict_host_candidates(["127.0.0.1"])
    seen = asyncio.run(_baseline(url)) if case == "baseline" else _ours(url, case == "slow")
    print(json.dumps(seen), flush=True)


# -- the row --------------------------------------------------------------------------------


@attrs.define
class Watched:
    """One child and the RSS samples taken of it: (seconds since sampling began, MB)."""

    case: str
    process: subprocess.Popen[str]
    samples: list[tuple[float, float]] = attrs.Factory(list)
    seen: dict[str, Any] = attrs.Factory(dict)

    def start_mb(self, warm_up: float) -> float:
        return next(mb for t, mb in self.samples if t >= warm_up)

    def growth_mb(self, warm_up: float) -> float:
        return self.samples[-1][1] - self.start_mb(warm_up)

    def slope_mb_per_min(self, warm_up: float) -> float:
        span = [(t, mb) for t, mb in self.samples if t >= warm_up]
        return _slope(span) * 60


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (0 when there are too few points)."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    var = sum((x - mean_x) ** 2 for x, _ in points)
    cov = sum((x - mean_x) * (y - mean_y) for x, y in points)
    return cov / var if var else 0.0


def run(plan: Plan) -> list[Measure]:
    from tests.rigs.footprint import rss_mb

    from ..server_process import ServerProcess

    warm_up = plan.seconds(15.0, 1.0)
    total = plan.seconds(120.0, 3.0)
    every = plan.seconds(1.0, 0.25)
    with ServerProcess(fps=25.0) as server:
        watched = [_spawn(case, server.url) for case in CASES]
        try:
            for one in watched:
                _wait_ready(one)
            progress(6, f"all connected; sampling RSS for {total:g} s (warm-up {warm_up:g} s)")
            started = time.monotonic()
            while (now := time.monotonic() - started) < total:
                for one in watched:
                    one.samples.append((now, rss_mb(one.process.pid)))
                time.sleep(every)
            for one in watched:
                one.samples.append((time.monotonic() - started, rss_mb(one.process.pid)))
        finally:
            for one in watched:
                _finish(one)
    for one in watched:
        progress(
            6,
            f"{one.case}: {one.start_mb(warm_up):.1f} -> {one.samples[-1][1]:.1f} MB, "
            f"{one.slope_mb_per_min(warm_up):+.2f} MB/min; {one.seen}",
        )
    return _measures({one.case: one for one in watched}, warm_up)


def _spawn(case: str, url: str) -> Watched:
    from ..server_process import REPOSITORY

    command = [sys.executable, "-m", __name__, case, url]
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPOSITORY
    )
    return Watched(case, process)


def _wait_ready(one: Watched) -> None:
    assert one.process.stdout is not None
    line = one.process.stdout.readline().strip()
    if line != "ready":
        raise RuntimeError(f"the {one.case} client did not connect (said {line!r})")


def _finish(one: Watched) -> None:
    """Close its stdin (it ends its session) and read what it saw."""
    assert one.process.stdin is not None and one.process.stdout is not None
    try:
        one.process.stdin.close()
        last = one.process.stdout.readline()
        one.seen = json.loads(last) if last.strip() else {}
        one.process.wait(20)
    except (subprocess.TimeoutExpired, ValueError, OSError):
        one.process.kill()
        one.process.wait(5)


def _measures(cases: dict[str, Watched], warm_up: float) -> list[Measure]:
    slow, none, base = cases["slow"], cases["none"], cases["baseline"]
    growth = slow.growth_mb(warm_up)
    return [
        Measure(
            row=6,
            what="RSS after warm-up, slow consumer",
            unit="MB",
            ours=Figures(slow.start_mb(warm_up)),
            baseline_name=BASELINE_NAME,
            baseline=Figures(base.start_mb(warm_up)),
        ),
        Measure(
            row=6,
            what="RSS growth, slow consumer",
            unit="MB",
            ours=Figures(growth),
            baseline_name=BASELINE_NAME,
            baseline=Figures(base.growth_mb(warm_up)),
            target=f"< {GROWTH_LIMIT_MB:g} MB",
            met=growth < GROWTH_LIMIT_MB,
        ),
        Measure(
            row=6,
            what="RSS slope, slow consumer",
            unit="MB/min",
            ours=Figures(slow.slope_mb_per_min(warm_up)),
            baseline_name=BASELINE_NAME,
            baseline=Figures(base.slope_mb_per_min(warm_up)),
        ),
        Measure(
            row=6,
            what="RSS after warm-up, no consumer",
            unit="MB",
            ours=Figures(none.start_mb(warm_up)),
            baseline_name="",
            baseline=None,
        ),
        Measure(
            row=6,
            what="RSS growth, no consumer",
            unit="MB",
            ours=Figures(none.growth_mb(warm_up)),
            baseline_name="",
            baseline=None,
        ),
    ]


if __name__ == "__main__":
    child(sys.argv[1], sys.argv[2])

"""Row 5: CPU seconds per minute of a live session receiving 512x512 @ 25 fps video and voice.

``NavTalkClient`` beside ``BareClient`` (asyncio + websockets + aiortc by hand), receiving the
same stream from the local server in a child process (its VP8 and Opus encoding are not
counted). One session per side per round, sides alternating; in each session, after the first
frame and a settling second, two phases of the same length:

- no consumer: both decode every frame of both tracks (VP8, Opus) and drop it; ours with no
  callback (its feeds drain), the baseline's drain tasks;
- every frame to RGB: ours with an ``on_video_frame`` callback (the RGB numpy array is made on
  the ``navtalk-video`` thread), the baseline calling ``frame.to_ndarray(format="rgb24")`` in
  its drain task.

The figure is this process's user + system CPU time (``getrusage``) over the phase, scaled to a
minute: 60 means one core busy all the time. The frame rates each side received (and, with
RGB, converted) go to stderr, to check both handled the whole stream.
"""

from __future__ import annotations

import asyncio
import resource
import time
from typing import Callable

import navtalk_sync as nt
from navtalk_sync.rtc.ice import restrict_host_candidates

from ..server_process import ServerProcess
from .bare_asyncio import BareClient
from .plan import Plan
from .report import Figures, Measure, progress

TIMEOUT = 15.0
BASELINE = "asyncio+aiortc"
#: The phases of a session, in order: table line -> whether frames become RGB.
PHASES = {"CPU, decode only (no consumer)": False, "CPU, every frame to RGB numpy": True}


def cpu_seconds() -> float:
    """This process's user + system CPU time so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Phase:
    """CPU time and frames counted over one phase of a session."""

    def __init__(self, frames: int) -> None:
        self._cpu, self._wall, self._frames = cpu_seconds(), time.perf_counter(), frames

    def end(self, frames: int) -> tuple[float, float]:
        """(CPU seconds per minute, video frames per second) since the phase began."""
        wall = time.perf_counter() - self._wall
        return (cpu_seconds() - self._cpu) / wall * 60, (frames - self._frames) / wall


def ours(url: str, seconds: float, settle: float) -> list[tuple[float, float]]:
    results = []
    with nt.NavTalkClient("sk_bench", url=url, avatar_name="navtalk.Leo") as client:
        client.connect(timeout=TIMEOUT)
        client.wait_for_video(timeout=TIMEOUT)

        for convert in PHASES.values():
            if convert:
                client.on_video_frame(lambda frame: None)
            # with a callback, the frames it got (latest frame wins: a slow one gets fewer)
            counter = "video_frames_delivered" if convert else "video_frames_received"
            time.sleep(settle)
            phase = Phase(int(client.stats()[counter]))
            time.sleep(seconds)
            results.append(phase.end(int(client.stats()[counter])))
    return results


def bare(url: str, seconds: float, settle: float) -> list[tuple[float, float]]:
    return asyncio.run(_bare(url, seconds, settle))


async def _bare(url: str, seconds: float, settle: float) -> list[tuple[float, float]]:
    results = []
    client = BareClient(url)
    try:
        await client.open()
        await asyncio.wait_for(client.first_frame, TIMEOUT)
        for convert in PHASES.values():
            client.convert = convert
            await asyncio.sleep(settle)
            phase = Phase(client.video_frames)
            await asyncio.sleep(seconds)
            results.append(phase.end(client.video_frames))
    finally:
        await client.close()
    return results


def run(plan: Plan) -> list[Measure]:
    restrict_host_candidates(["127.0.0.1"])
    rounds, seconds, settle = plan.count(2, 1), plan.seconds(12.0, 0.5), plan.seconds(1.0, 0.2)
    sides: dict[str, Callable[[str, float, float], list[tuple[float, float]]]] = {
        "ours": ours,
        "bare": bare,
    }
    loads: dict[str, list[list[float]]] = {name: [[] for _ in PHASES] for name in sides}
    with ServerProcess() as server:
        for n in range(rounds):
            order = list(sides) if n % 2 == 0 else list(reversed(sides))
            for name in order:
                got = sides[name](server.url, seconds, settle)
                for index, (load, _) in enumerate(got):
                    loads[name][index].append(load)
                shown = ", ".join(f"{load:.1f} CPU s/min at {rate:.1f} fps" for load, rate in got)
                progress(5, f"round {n + 1}/{rounds} {name}: {shown}")
    return [
        _measure(what, loads["ours"][index], loads["bare"][index])
        for index, what in enumerate(PHASES)
    ]


def _measure(what: str, ours: list[float], bare: list[float]) -> Measure:
    mine, base = Figures.of(ours), Figures.of(bare)
    met = mine.p50 <= 1.2 * base.p50
    return Measure(5, what, "CPU s/min", mine, BASELINE, base, target="ratio <= 1.2", met=met)

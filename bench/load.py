"""Load: how many concurrent sessions one local server and this machine hold.

Reproduce:  .venv/bin/python bench/load.py [--max-sessions 32] [--step-seconds 20]
                [--ask-every 3] [--max-minutes 15] [--latency-floor 0.25]

The local server runs in a child process (bench/server_process.py), the clients in this one:
their Python threads do not share a GIL with the server's VP8 encoding, but both processes
share the machine's cores (2 on the project's machine), so the breaking point is the
machine's, server and clients together.

The number of sessions ramps 1, 2, 4, 6, 8, ... In each step every session is a
``NavTalkClient`` with media on (real aiortc over 127.0.0.1) on its own thread: it connects,
waits for the first video frame, then, for ``--step-seconds``, calls ``ask()`` every
``--ask-every`` seconds (or as soon as the previous answer arrives, when that takes longer)
while an ``on_video_frame`` callback receives the 512x512 face as RGB. Per step it prints the
sessions connected, the answers' latency as the library's own ``client.turn`` reports give it
(``audio_done``, the moment ``ask()`` returns on: median and 95th percentile; and the median
``first_voice``, when the avatar is first heard), video frames per second each
session's callback received (median and worst, beside the server's 25 fps), the CPU each
process used (100 % = one core) and both processes' resident memory, with ratios to the
1-session step.

It stops at the breaking point, the first step where a connect fails, an ask() fails, the
worst session's frame rate drops below 80 % of the server's, or the ask() p95 exceeds 3x the
1-session p95 and ``--latency-floor`` (0.25 s: on loopback one session's answer takes about
20 ms, and 3x that is scheduling noise on a shared 2-core machine, not a slowdown anyone
sees; ``--latency-floor 0`` applies the ratio alone); or at ``--max-sessions``, or before a
step that would start after ``--max-minutes``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from server_process import ServerProcess

import navtalk_sync as nt
from tests.rigs.footprint import cpu_seconds, rss_mb

QUESTION = "What can you do?"
CONNECT_TIMEOUT = 30.0
ASK_TIMEOUT = 30.0
#: The breaking point's thresholds, against the server's frame rate and the 1-session step.
MIN_FPS_SHARE = 0.8
MAX_P95_RATIO = 3.0


@attrs.define
class SessionRun:
    """One session's figures in one step (filled in by its thread)."""

    error: str | None = None
    latencies: list[float] = attrs.Factory(list)  # each answer's TurnReport.audio_done
    first_voices: list[float] = attrs.Factory(list)  # ... and its first_voice
    ask_failures: int = 0
    fps: float | None = None


@attrs.frozen
class StepResult:
    sessions: int
    runs: list[SessionRun]
    client_cpu: float  # share of one core
    server_cpu: float
    client_rss_mb: float
    server_rss_mb: float

    @property
    def connected(self) -> int:
        return sum(run.error is None for run in self.runs)

    @property
    def latencies(self) -> list[float]:
        return sorted(t for run in self.runs for t in run.latencies)

    @property
    def first_voices(self) -> list[float]:
        return sorted(t for run in self.runs for t in run.first_voices)

    @property
    def ask_failures(self) -> int:
        return sum(run.ask_failures for run in self.runs)

    @property
    def fps(self) -> list[float]:
        return [run.fps for run in self.runs if run.fps is not None]


def p95(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=20, method="inclusive")[18]


class Step:
    """The sessions of one step: all connect, then all work for the same window."""

    def __init__(self, url: str, sessions: int, ask_every: float) -> None:
        self.url = url
        self.ask_every = ask_every
        self.runs = [SessionRun() for _ in range(sessions)]
        # every session, connected or not, and the coordinator meet here before the window
        self.ready = threading.Barrier(sessions + 1, timeout=CONNECT_TIMEOUT * 2)
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(target=self.session, args=(run,), name=f"navtalk-bench-session-{i}")
            for i, run in enumerate(self.runs)
        ]

    def session(self, run: SessionRun) -> None:
        frames = Counter()
        client = nt.NavTalkClient("sk_bench", url=self.url, avatar_name="navtalk.Leo")
        try:
            client.on_video_frame(frames)
            client.on(nt.events.TurnReport, lambda report: self.note_turn(report, run))
            try:
                client.connect(timeout=CONNECT_TIMEOUT)
                client.wait_for_video(timeout=CONNECT_TIMEOUT)
            except Exception as exc:  # any failure to get a working session counts
                run.error = f"{type(exc).__name__}: {exc}"
            self.ready.wait()
            if run.error is None:
                started, first = time.monotonic(), frames.count
                self.ask_until_stopped(client, run)
                run.fps = (frames.count - first) / (time.monotonic() - started)
        finally:
            client.close(timeout=5)

    def note_turn(self, report: nt.Event, run: SessionRun) -> None:
        """A reply's figures, as the library measured them (the dispatcher thread; every ask
        starts inside the step's window)."""
        assert isinstance(report, nt.events.TurnReport)
        if report.audio_done is not None:
            run.latencies.append(report.audio_done)
        if report.first_voice is not None:
            run.first_voices.append(report.first_voice)

    def ask_until_stopped(self, client: nt.NavTalkClient, run: SessionRun) -> None:
        next_ask = time.monotonic()
        while not self.stop.wait(max(0.0, next_ask - time.monotonic())):
            next_ask += self.ask_every
            try:
                client.ask(QUESTION, timeout=ASK_TIMEOUT)
            except nt.NavTalkError:
                run.ask_failures += 1
            next_ask = max(next_ask, time.monotonic())  # a slow answer delays the next one

    def run(self, seconds: float, server: ServerProcess) -> StepResult:
        for thread in self.threads:
            thread.start()
        try:
            self.ready.wait()
            cpu, server_cpu, wall = cpu_seconds(), cpu_seconds(server.pid), time.monotonic()
            time.sleep(seconds)
            elapsed = time.monotonic() - wall
            client_cpu = (cpu_seconds() - cpu) / elapsed
            server_cpu = (cpu_seconds(server.pid) - server_cpu) / elapsed
            memory = rss_mb(), rss_mb(server.pid)
        finally:
            self.stop.set()
            for thread in self.threads:
                thread.join(ASK_TIMEOUT + 10)
        return StepResult(len(self.runs), self.runs, client_cpu, server_cpu, *memory)


class Counter:
    """How many times it was called (a frame callback)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _: object) -> None:
        self.count += 1


def session_counts(max_sessions: int):
    """1, 2, 4, 6, 8, ... up to max_sessions."""
    yield 1
    count = 2
    while count <= max_sessions:
        yield count
        count += 2


def breaking_reason(
    step: StepResult, baseline: StepResult, server_fps: float, latency_floor: float
) -> str | None:
    """Why this step is past what the machine holds, or None."""
    if step.connected < step.sessions:
        failed = next(run.error for run in step.runs if run.error is not None)
        return f"{step.sessions - step.connected} connect(s) failed ({failed})"
    if step.ask_failures:
        return f"{step.ask_failures} ask() call(s) failed"
    if min(step.fps, default=0.0) < MIN_FPS_SHARE * server_fps:
        return f"worst session {min(step.fps):.1f} fps < {MIN_FPS_SHARE:.0%} of {server_fps:g}"
    limit = max(MAX_P95_RATIO * p95(baseline.latencies), latency_floor)
    if p95(step.latencies) > limit:
        return (
            f"ask() p95 {p95(step.latencies):.3f} s > {limit:.3f} s ({MAX_P95_RATIO:g}x the "
            f"1-session {p95(baseline.latencies):.3f} s, at least {latency_floor:g} s)"
        )
    return None


def print_row(step: StepResult, baseline: StepResult) -> None:
    latencies, fps, voices = step.latencies, step.fps, step.first_voices
    base_p95 = p95(baseline.latencies)
    median_fps = statistics.median(fps) if fps else float("nan")
    base_fps = statistics.median(baseline.fps) if baseline.fps else float("nan")
    print(
        f"| {step.sessions} | {step.connected} | {len(latencies)} | "
        f"{statistics.median(latencies) if latencies else float('nan'):.3f} | "
        f"{p95(latencies):.3f} | {p95(latencies) / base_p95:.2f} | "
        f"{statistics.median(voices) if voices else float('nan'):.3f} | "
        f"{median_fps:.1f} ({min(fps, default=float('nan')):.1f}) | "
        f"{median_fps / base_fps:.2f} | {step.client_cpu:.0%} | {step.server_cpu:.0%} | "
        f"{step.client_rss_mb:.0f} | {step.server_rss_mb:.0f} |",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-sessions", type=int, default=32)
    parser.add_argument("--step-seconds", type=float, default=20.0)
    parser.add_argument("--ask-every", type=float, default=3.0, metavar="SECONDS")
    parser.add_argument("--max-minutes", type=float, default=15.0)
    parser.add_argument("--latency-floor", type=float, default=0.25, metavar="SECONDS")
    args = parser.parse_args()
    started = time.monotonic()
    print(
        f"load: sessions against one local server (child process, 512x512 @ 25 fps), "
        f"{args.step_seconds:g} s a step, ask() every {args.ask_every:g} s per session\n"
    )
    print(
        "| sessions | connected | answers | answer p50 s | answer p95 s | p95 ratio | "
        "first voice p50 s | "
        "fps/session median (worst) | fps ratio | client CPU | server CPU | "
        "client RSS MB | server RSS MB |"
    )
    print("| --- " * 13 + "|")
    baseline: StepResult | None = None
    verdict = f"no breaking point up to {args.max_sessions} sessions"
    with ServerProcess() as server:
        for sessions in session_counts(args.max_sessions):
            if time.monotonic() - started > args.max_minutes * 60:
                verdict = f"stopped by the {args.max_minutes:g} min cap before {sessions} sessions"
                break
            step = Step(server.url, sessions, args.ask_every).run(args.step_seconds, server)
            baseline = baseline or step
            print_row(step, baseline)
            reason = breaking_reason(step, baseline, server.fps, args.latency_floor)
            if reason is not None:
                verdict = f"breaking point: {sessions} sessions: {reason}"
                break
    print(f"\n{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

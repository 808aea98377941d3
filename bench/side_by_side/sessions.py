"""Row 8: how many live sessions one process (threads) and N processes sustain.

One local server (a child process) serves every session. A session is live: media on (the
512x512 face at 25 fps, every frame converted to RGB for an ``on_video_frame`` consumer, and
the voice) while the server sends it stamped reply-text deltas at ``RATE`` a second; the
latency of a delta is its server write -> our callback (``stamp_latency``).

Two modes, stepped together (1, 2, 4, 6, 8, 12, 16, ... sessions; at each count threads then
processes, so drift hits both):

- ``threads``: every session a ``NavTalkClient`` in this process (its own threads and rtc loop);
- ``processes``: one session per child process (``live_session.py``), which reports its
  latencies back on stdout.

A count is sustained while the pooled p99 is at most ``MAX_P99_RATIO`` x the same mode's
1-session p99 (same run), the worst session still gets ``MIN_FPS`` (80 % of the server's 25
fps), and no stamp is lost. A mode stops at its first count that is not (its breaking count).
The table gets the sessions each mode sustained (threads beside processes as the baseline,
then processes alone), and per mode, at its breaking count (or the last count tried): the
latency against its 1-session step, the worst session's frame rate, and the CPU the clients and
the server used (cores, from /proc/<pid>/stat) with the whole machine's busy cores (/proc/stat;
other people's work counts there), so a reader sees who ran out first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import attrs

from bench.server_process import ServerProcess
from tests.rigs.footprint import cpu_seconds

from .live_session import LiveSession, WindowFigures
from .plan import Plan
from .report import Figures, Measure, percentile, progress

ROW = 8
#: Stamped deltas a second, to every session.
RATE = 100.0
#: The session counts tried, in order (each mode stops at its first breaking count).
COUNTS = (1, 2, 4, 6, 8, 12, 16, 24, 32)
MAX_P99_RATIO = 2.0
#: The server's frame rate (``ServerProcess`` default), and the least a live session may get.
SERVER_FPS = 25.0
MIN_FPS = 0.8 * SERVER_FPS
#: One window of stamps (1 session, and a count whose latency breaks, get a second one).
WINDOW_SECONDS = 6.0
#: After every session's first frame, before the window: connecting settles (ICE, jitter).
SETTLE_SECONDS = 1.0
REPOSITORY = Path(__file__).resolve().parents[2]


class Session(Protocol):
    """What a step drives: a ``LiveSession`` here, or one in a child process."""

    def start_window(self) -> None: ...
    def stop_window(self) -> None: ...
    def figures(self, stamps: int) -> WindowFigures: ...
    def close(self) -> None: ...


@attrs.frozen
class Step:
    """One mode at one session count."""

    mode: str
    sessions: int
    latencies: list[float]  # seconds, every session's pooled
    fps: list[float]  # one per session: frames its consumer got a second
    decoded_fps: list[float]  # one per session: frames aiortc decoded a second
    client_cpu: float  # cores: this process (threads) or the children together (processes)
    server_cpu: float  # cores
    machine_cpu: float  # cores busy on the whole machine (other people's work too)
    lost: int  # stamps sent that never reached a callback
    error: str | None = None
    windows: int = 1

    @property
    def p99(self) -> float:
        return percentile(self.latencies, 99)

    def pooled(self, other: Step) -> Step:
        """This step and a second window of the same sessions, as one."""
        return attrs.evolve(
            self,
            latencies=self.latencies + other.latencies,
            fps=_worse(self.fps, other.fps),
            decoded_fps=_worse(self.decoded_fps, other.decoded_fps),
            client_cpu=(self.client_cpu + other.client_cpu) / 2,
            server_cpu=(self.server_cpu + other.server_cpu) / 2,
            machine_cpu=(self.machine_cpu + other.machine_cpu) / 2,
            lost=self.lost + other.lost,
            windows=self.windows + other.windows,
        )


def _worse(first: list[float], second: list[float]) -> list[float]:
    """Per session, the lower frame rate of two windows."""
    return [min(a, b) for a, b in zip(first, second, strict=True)]


def run(plan: Plan) -> list[Measure]:
    counts = COUNTS if not plan.smoke else (1, 2)
    budget = plan.seconds(95.0, 30.0)  # no step starts past it (a step takes up to ~30 s)
    started = time.monotonic()
    modes = {"threads": threads_step, "processes": processes_step}
    steps: dict[str, list[Step]] = {mode: [] for mode in modes}
    verdicts = {mode: f"no breaking point up to {counts[-1]} sessions" for mode in modes}
    running = set(modes)
    with ServerProcess() as server:
        for count in counts:
            for mode, step_of in modes.items():
                if mode not in running:
                    continue
                if time.monotonic() - started > budget:
                    verdicts[mode] = f"out of time before {count} sessions"
                    running.discard(mode)
                    continue
                one = steps[mode][0] if steps[mode] else None
                step = step_of(server, count, plan, one)
                steps[mode].append(step)
                reason = breaking_reason(step, one or step)
                _progress(step, one or step, reason)
                if reason is not None:
                    verdicts[mode] = f"breaks at {count}: {reason}"
                    running.discard(mode)
    for mode, verdict in verdicts.items():
        progress(8, f"{mode}: {verdict}")
    return measures(steps["threads"], steps["processes"])


def breaking_reason(step: Step, one: Step) -> str | None:
    """Why ``step`` is past what its mode sustains (``one``: its 1-session step), or None."""
    if step.error is not None:
        return step.error
    if step.lost:
        return f"{step.lost} stamps lost"
    worst = min(step.fps)
    if worst < MIN_FPS:
        return f"worst session {worst:.1f} fps < {MIN_FPS:g}"
    return _latency_reason(step, one)


def _latency_reason(step: Step, one: Step) -> str | None:
    if step.p99 > MAX_P99_RATIO * one.p99:
        return f"p99 {step.p99 * 1e3:.2f} ms > {MAX_P99_RATIO:g}x {one.p99 * 1e3:.2f} ms"
    return None


# ---------------------------------------------------------------- one step


def measure(
    server: ServerProcess, sessions: Sequence[Session], plan: Plan, one: Step | None, children: bool
) -> Step:
    """One window; for the 1 session step (``one`` None), and when its latency alone breaks
    the count (against ``one``), a second window on the same sessions, pooled with the first:
    one stall of a shared machine is neither the baseline nor the breaking point, a tail that
    stays is. (``--smoke`` always takes the second window, so CI runs that path too.)"""
    seconds = plan.seconds(WINDOW_SECONDS, 0.5)
    time.sleep(plan.seconds(SETTLE_SECONDS, 0.2))
    step = measure_window(server, sessions, seconds, children)
    if one is None or plan.smoke or _breaks_on_latency_alone(step, one):
        step = step.pooled(measure_window(server, sessions, seconds, children))
    return step


def _breaks_on_latency_alone(step: Step, one: Step) -> bool:
    reason = breaking_reason(step, one)
    return reason is not None and reason == _latency_reason(step, one)


def measure_window(
    server: ServerProcess, sessions: Sequence[Session], seconds: float, children: bool
) -> Step:
    """Every session's window while the server sends ``seconds`` of stamps to each. The
    clients' CPU is this process's, or with ``children`` the sum of theirs."""
    count = round(RATE * seconds)
    server_cpu, own_cpu, machine_cpu = cpu_seconds(server.pid), cpu_seconds(), machine_busy()
    wall = time.monotonic()
    for session in sessions:
        session.start_window()
    server.send_stamped_deltas(RATE, count)
    for session in sessions:
        session.stop_window()
    elapsed = time.monotonic() - wall
    server_used = (cpu_seconds(server.pid) - server_cpu) / elapsed
    own_used = (cpu_seconds() - own_cpu) / elapsed
    machine_used = (machine_busy() - machine_cpu) / elapsed
    figures = [session.figures(count) for session in sessions]
    latencies = [t for f in figures for t in f.latencies]
    return Step(
        mode="",
        sessions=len(sessions),
        latencies=latencies,
        fps=[f.fps for f in figures],
        decoded_fps=[f.decoded_fps for f in figures],
        client_cpu=sum(f.cpu for f in figures) if children else own_used,
        server_cpu=server_used,
        machine_cpu=machine_used,
        lost=count * len(sessions) - len(latencies),
    )


def threads_step(server: ServerProcess, count: int, plan: Plan, one: Step | None) -> Step:
    """``count`` sessions in this process, connected in parallel."""
    sessions = [LiveSession(server.url) for _ in range(count)]
    errors: list[str] = []

    def connect(session: LiveSession) -> None:
        try:
            session.connect()
        except Exception as exc:  # any failure to get a live session counts
            errors.append(f"connect failed: {type(exc).__name__}: {exc}")

    connecting = [
        threading.Thread(target=connect, args=(s,), name=f"navtalk-bench-connect-{i}")
        for i, s in enumerate(sessions)
    ]
    try:
        for thread in connecting:
            thread.start()
        for thread in connecting:
            thread.join()
        if errors:
            return _failed("threads", count, errors[0])
        step = measure(server, sessions, plan, one, children=False)
        return attrs.evolve(step, mode="threads")
    finally:
        for session in sessions:
            session.close()


def processes_step(server: ServerProcess, count: int, plan: Plan, one: Step | None) -> Step:
    """``count`` child processes, one session each."""
    children = [ChildSession(server.url) for _ in range(count)]
    try:
        not_ready = [child for child in children if not child.wait_ready()]
        if not_ready:
            return _failed("processes", count, f"{len(not_ready)} children failed to connect")
        step = measure(server, children, plan, one, children=True)
        return attrs.evolve(step, mode="processes")
    finally:
        for child in children:
            child.close()


class ChildSession:
    """A ``LiveSession`` in a child process, driven over its stdin and stdout."""

    def __init__(self, url: str) -> None:
        self._child = subprocess.Popen(
            [sys.executable, "-m", f"{__package__}.live_session", url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPOSITORY,
        )

    def wait_ready(self) -> bool:
        return self._read() == "ready"  # the child gives up connecting after its own timeout

    def start_window(self) -> None:
        self._write("start")
        self._read()  # "started": a stamp sent before it would be missed

    def stop_window(self) -> None:
        self._write("stop")

    def figures(self, stamps: int) -> WindowFigures:
        self._write(f"figures {stamps}")
        line = self._read()
        if not line.startswith("result "):
            return WindowFigures([], 0.0, 0.0, 0.0)
        return WindowFigures(**json.loads(line[len("result ") :]))

    def close(self) -> None:
        if self._child.stdin is not None and not self._child.stdin.closed:
            try:
                self._child.stdin.close()
            except BrokenPipeError:
                pass
        try:
            self._child.wait(15)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait(5)

    def _write(self, line: str) -> None:
        assert self._child.stdin is not None
        try:
            self._child.stdin.write(line + "\n")
            self._child.stdin.flush()
        except BrokenPipeError:
            pass  # the child died: its figures will be missing

    def _read(self) -> str:
        assert self._child.stdout is not None
        return self._child.stdout.readline().strip()


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every core, every process: /proc/stat)."""
    with open("/proc/stat") as stat:
        fields = [int(f) for f in stat.readline().split()[1:]]
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")  # guests are in user


def _failed(mode: str, count: int, error: str) -> Step:
    return Step(mode, count, [], [], [], 0.0, 0.0, 0.0, 0, error)


# ---------------------------------------------------------------- the table


def measures(threads: list[Step], processes: list[Step]) -> list[Measure]:
    sustained = {"threads": _sustained(threads), "processes": _sustained(processes)}
    lines = [
        Measure(
            row=ROW,
            what="sessions sustained, 1 process",
            unit="sessions",
            ours=Figures(sustained["threads"]),
            baseline_name="N processes",
            baseline=Figures(sustained["processes"]),
            target=f"p99 <= {MAX_P99_RATIO:g}x 1 sess, fps >= {MIN_FPS:g}",
            higher_is_better=True,
        ),
        Measure(
            row=ROW,
            what="sessions sustained, N processes",
            unit="sessions",
            ours=Figures(sustained["processes"]),
            baseline_name="",
            baseline=None,
            target=f"p99 <= {MAX_P99_RATIO:g}x 1 sess, fps >= {MIN_FPS:g}",
            higher_is_better=True,
        ),
    ]
    for mode, steps in (("threads", threads), ("processes", processes)):
        lines.extend(_at_the_break(mode, steps))
    return lines


def _sustained(steps: list[Step]) -> int:
    """The highest count before the first breaking one (0 if even 1 session broke)."""
    one = steps[0] if steps else None
    best = 0
    for step in steps:
        if one is None or breaking_reason(step, one) is not None:
            break
        best = step.sessions
    return best


def _at_the_break(mode: str, steps: list[Step]) -> Iterable[Measure]:
    """Latency, frame rate and CPU at the breaking count (or the last one tried)."""
    if not steps:
        return
    one, last = steps[0], steps[-1]
    n = last.sessions
    yield Measure(
        row=ROW,
        what=f"event latency, {mode} @{n}",
        unit="ms",
        ours=Figures.of([t * 1e3 for t in last.latencies]),
        baseline_name="1 session",
        baseline=Figures.of([t * 1e3 for t in one.latencies]),
        target=f"p99 <= {MAX_P99_RATIO:g}x 1 session",
        met=bool(last.latencies) and last.p99 <= MAX_P99_RATIO * one.p99,
    )
    yield Measure(
        row=ROW,
        what=f"worst session fps, {mode} @{n}",
        unit="fps",
        ours=Figures(min(last.fps, default=0.0)),
        baseline_name="1 session",
        baseline=Figures(min(one.fps, default=0.0)),
        target=f">= {MIN_FPS:g} (server {SERVER_FPS:g})",
        met=min(last.fps, default=0.0) >= MIN_FPS,
        higher_is_better=True,
    )
    yield Measure(
        row=ROW,
        what=f"CPU, {mode} @{n} (machine {last.machine_cpu:.1f}/{os.cpu_count()})",
        unit="cores",
        ours=Figures(last.client_cpu),
        baseline_name="server process",
        baseline=Figures(last.server_cpu),
    )


def _progress(step: Step, one: Step, reason: str | None) -> None:
    if step.error is not None:
        progress(8, f"{step.mode} x{step.sessions}: {step.error}")
        return
    fps = sorted(step.fps)
    progress(
        8,
        f"{step.mode} x{step.sessions}: p50 {percentile(step.latencies, 50) * 1e3:.2f} ms, "
        f"p99 {step.p99 * 1e3:.2f} ms ({step.p99 / one.p99:.2f}x 1 session), "
        f"fps median {fps[len(fps) // 2]:.1f} worst {fps[0]:.1f} "
        f"(decoded: worst {min(step.decoded_fps):.1f}), lost {step.lost}, "
        f"CPU clients {step.client_cpu:.2f} server {step.server_cpu:.2f} machine "
        f"{step.machine_cpu:.2f}/{os.cpu_count()} cores"
        + (f" ({step.windows} windows pooled)" if step.windows > 1 else "")
        + (f" -> breaks: {reason}" if reason else ""),
    )

"""Soak: one session for N minutes, microphone and video on; memory must stay flat.

Reproduce:  .venv/bin/python bench/soak.py [--minutes 10] [--drop-every SECONDS]
                [--max-growth-mb-per-min 1.0] [--trim]
(needs the Debian packages pulseaudio, pulseaudio-utils and libasound2-plugins)

The local server runs in a child process (bench/server_process.py), so this process holds the
client alone. One ``NavTalkClient`` with media on (real aiortc over 127.0.0.1) captures the
paced PulseAudio input of tests/rigs/pulse.py with ``start_microphone()``: real PyAudio capture in
real time, the whole run. Every ``--speak-every`` seconds ``paplay`` plays a sentence said by
eSpeak NG into that input; the server's voice loop hears it and the avatar answers. An
``on_video_frame`` callback receives the face (RGB, 25 fps) throughout.

Every ``--sample-every`` seconds it samples this process's resident memory (VmRSS, as an
operator sees it: no garbage collection or allocator trimming first), threads (Python's, and
the OS count, where C libraries' threads such as PulseAudio's come and go) and open file
descriptors. With ``--trim`` each sample is taken after a garbage collection and glibc's
``malloc_trim``: the memory still in use, without the allocator's high-water mark (freed
memory glibc keeps in its arenas, which grows in steps when sessions come and go, as with
``--drop-every``). At the end it prints a table: memory at start and end, and its
slope in MB per minute (least squares over the samples after the first minute, when caches and
the allocator have settled), threads, video frames, audio chunks sent and dropped, what the
server heard and the replies, disconnects and reconnections (``stats()``), and the server
process's memory for information (the local server keeps every message it receives for the
tests to read, so its memory grows with the microphone's audio: it is no soak subject).

``--drop-every SECONDS`` aborts the server's connections that often (no close frame: code
1006) and turns on the client's reconnection (``reconnect=True``).

Exit status: 0 when the memory slope is within ``--max-growth-mb-per-min`` and the session was
not lost; 1 otherwise. It stops by itself.
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.rigs import alsa, pulse  # the ALSA config must precede any PyAudio()

WORK = Path(tempfile.mkdtemp(prefix="navtalk-bench-soak-"))
alsa.install(WORK / "alsa", pulse_socket=pulse.socket_path(WORK / "pulse"))

from server_process import ServerProcess  # noqa: E402

import navtalk_sync as nt  # noqa: E402
from tests.helpers import SENTENCE, spoken  # noqa: E402
from tests.rigs.footprint import Footprint, release_free_memory, rss_mb  # noqa: E402

#: Samples before this many seconds are left out of the slope: warm-up, not growth.
SETTLE_SECONDS = 60.0


@attrs.frozen
class Sample:
    seconds: float
    footprint: Footprint
    server_rss_mb: float


@attrs.frozen
class SoakResult:
    samples: list[Sample]
    #: the client's stats() at the end
    stats: dict
    frames_seen: int
    spoken: int
    heard: int
    replies: int
    drops: int
    #: why the session ended, if it was lost
    lost: BaseException | None


class Talker:
    """Says SENTENCE into the paced microphone input every ``every`` seconds, on its own
    thread, until ``stop()``."""

    def __init__(self, rig: pulse.PulseRig, every: float) -> None:
        self._rig = rig
        self._every = every
        self._sound = spoken(SENTENCE)
        self._stopping = threading.Event()
        self.times_spoken = 0
        self._thread = threading.Thread(target=self._run, name="navtalk-bench-talker")
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self._every):
            player = self._rig.play(self._sound)
            player.wait(30)
            self.times_spoken += 1

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(35)


class Counter:
    """How many times it was called (a callback for events or frames)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _: object) -> None:
        self.count += 1


def make_client(url: str, reconnect: bool) -> nt.NavTalkClient:
    options = {"reconnect": True} if reconnect else {}
    if reconnect and "reconnect" not in inspect.signature(nt.NavTalkClient).parameters:
        sys.exit(
            "--drop-every needs a client that reconnects, NavTalkClient(..., reconnect=True); "
            "this version of navtalk_sync has no reconnect setting: run without --drop-every"
        )
    return nt.NavTalkClient("sk_bench", url=url, avatar_name="navtalk.Leo", **options)


def soak(args: argparse.Namespace, rig: pulse.PulseRig, server: ServerProcess) -> SoakResult:
    """Run the session; returns the figures for the table."""
    frames, heard, replies = Counter(), Counter(), Counter()
    samples: list[Sample] = []
    with make_client(server.url, reconnect=args.drop_every is not None) as client:
        client.on_video_frame(frames)
        client.on("realtime.conversation.item.input_audio_transcription.completed", heard)
        client.on("realtime.response.audio_transcript.done", replies)
        client.connect(timeout=15)
        client.wait_for_video(timeout=15)
        client.start_microphone(device=alsa.PACED_INPUT)
        talker = Talker(rig, args.speak_every)
        try:
            drops = run_for(args, client, server, samples)
        finally:
            talker.stop()
        stats = client.stats()
        lost = client.error
    return SoakResult(
        samples, stats, frames.count, talker.times_spoken, heard.count, replies.count, drops, lost
    )


def run_for(
    args: argparse.Namespace,
    client: nt.NavTalkClient,
    server: ServerProcess,
    samples: list[Sample],
) -> int:
    """Sample (and drop the connections, with --drop-every) until the time is up or the
    session is lost for good; returns how many connections the server dropped."""
    started = time.monotonic()
    next_sample, next_drop = started, started + (args.drop_every or 0)
    drops = 0
    while (now := time.monotonic()) < started + args.minutes * 60:
        if now >= next_sample:
            samples.append(sample(args, now - started, server))
            next_sample += args.sample_every
        if args.drop_every is not None and now >= next_drop:
            drops += server.drop_connections()
            next_drop += args.drop_every
        if client.state in ("closed", "failed"):
            break  # lost, and no reconnection (left) to bring it back
        time.sleep(0.2)
    samples.append(sample(args, time.monotonic() - started, server))
    return drops


def sample(args: argparse.Namespace, seconds: float, server: ServerProcess) -> Sample:
    if args.trim:
        release_free_memory()
    return Sample(seconds, Footprint.now(), rss_mb(server.pid))


def slope_mb_per_minute(samples: list[Sample]) -> float:
    """Least-squares slope of RSS over time, after the first minute (all samples if the run
    is too short to leave two)."""
    settled = [s for s in samples if s.seconds >= SETTLE_SECONDS]
    if len(settled) < 2:
        settled = samples
    minutes = [s.seconds / 60 for s in settled]
    return statistics.linear_regression(minutes, [s.footprint.rss_mb for s in settled]).slope


def each_minute(samples: list[Sample]) -> list[float]:
    """The RSS of the first sample of every minute, and of the last sample."""
    minutes = {int(s.seconds // 60): s.footprint.rss_mb for s in reversed(samples)}
    return [*(minutes[m] for m in sorted(minutes)), samples[-1].footprint.rss_mb]


def print_table(args: argparse.Namespace, result: SoakResult, slope: float) -> None:
    samples, stats = result.samples, result.stats
    first, last = samples[0], samples[-1]
    mic = stats.get("microphone", {})
    rows = [
        ("duration", f"{last.seconds / 60:.1f} min ({len(samples)} samples)"),
        ("RSS start / end", f"{first.footprint.rss_mb:.1f} / {last.footprint.rss_mb:.1f} MB"),
        ("RSS growth", f"{last.footprint.rss_mb - first.footprint.rss_mb:+.1f} MB"),
        ("RSS slope after 1 min", f"{slope:+.3f} MB/min (bound {args.max_growth_mb_per_min})"),
        ("RSS each minute", " ".join(f"{rss:.1f}" for rss in each_minute(samples))),
        (
            "threads start / end: Python (OS)",
            f"{len(first.footprint.thread_names)} ({first.footprint.os_threads}) / "
            f"{len(last.footprint.thread_names)} ({last.footprint.os_threads})",
        ),
        ("open fds start / end", f"{first.footprint.fds} / {last.footprint.fds}"),
        (
            "video frames received / dropped",
            f"{stats.get('video_frames_received')} / {stats.get('video_frames_dropped')} "
            f"({result.frames_seen} to on_video_frame)",
        ),
        (
            "audio chunks sent / dropped",
            f"{stats.get('audio_chunks_sent')} / {stats.get('audio_chunks_dropped')} "
            f"({stats.get('audio_seconds_sent', 0):.0f} s sent)",
        ),
        ("microphone overflows", f"{mic.get('overflows')}"),
        (
            "sentences spoken / heard / replies",
            f"{result.spoken} / {result.heard} / {result.replies}",
        ),
        ("connections dropped by the server", f"{result.drops}"),
        (
            "disconnects / reconnects",
            f"{stats.get('disconnects', 0)} / {stats.get('reconnects', 0)}",
        ),
        ("session lost", f"{result.lost!r}" if result.lost else "no"),
        (
            "server process RSS start / end",
            f"{first.server_rss_mb:.1f} / {last.server_rss_mb:.1f} MB",
        ),
    ]
    memory = "memory in use (--trim)" if args.trim else "RSS"
    print(f"soak: one session, microphone + video, {args.minutes:g} min; {memory}")
    print("| measure | value |")
    print("| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--max-growth-mb-per-min", type=float, default=1.0)
    parser.add_argument("--drop-every", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--speak-every", type=float, default=20.0, metavar="SECONDS")
    parser.add_argument("--sample-every", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--trim", action="store_true", help="sample the memory in use")
    args = parser.parse_args()
    if pulse.MISSING:
        sys.exit(pulse.MISSING)
    rig = pulse.start(WORK / "pulse")
    try:
        with ServerProcess() as server:
            result = soak(args, rig, server)
    finally:
        rig.stop()
        shutil.rmtree(WORK, ignore_errors=True)
    slope = slope_mb_per_minute(result.samples)
    print_table(args, result, slope)
    if result.lost:
        print("FAIL: the session was lost")
        return 1
    if slope > args.max_growth_mb_per_min:
        print(f"FAIL: memory grows {slope:.3f} MB/min, over {args.max_growth_mb_per_min}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A turn's moments as the library reports them (``client.turn``), against the local server's
fast and realistic timings, side by side.

Reproduce:  .venv/bin/python bench/turn_figures.py [--turns 6]

Each profile runs one local server (in this process) and one client with media on; the client
asks ``--turns`` typed questions, one after the other's voice has ended, and keeps each reply's
``TurnReport``. The table gives the median of every moment (seconds from ``ask()``) and its
ratio realistic / fast, and the last lines how far the mouth seen moving in the picture
(``mouth_moving``) is from the first sound of the voice (``first_voice``): the local face opens
its mouth with its voice, so this is the client's picture/voice offset plus the detector's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Any

import navtalk_sync as nt
from navtalk_sync.server import LocalServer

MOMENTS = ("first_text", "first_voice", "mouth_moving", "audio_done", "voice_ended")
QUESTIONS = ("What can you do?", "Tell me about the weather.", "Say something kind.")


def turns(latency: str, count: int) -> list[nt.events.TurnReport]:
    reports = []
    with (
        LocalServer(latency=latency) as server,
        nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url) as client,
    ):
        client.connect(timeout=30)
        client.wait_for_video(timeout=30)
        for index in range(count):
            with client.expect(nt.events.TurnReport) as report:
                client.ask(QUESTIONS[index % len(QUESTIONS)], timeout=60)
            event = report.result(timeout=60)
            assert isinstance(event, nt.events.TurnReport)
            reports.append(event)
    return reports


def median(reports: list[nt.events.TurnReport], moment: str) -> float | None:
    seen = [getattr(r, moment) for r in reports if getattr(r, moment) is not None]
    return statistics.median(seen) if seen else None


def cell(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=6)
    args = parser.parse_args()
    fast, realistic = turns("fast", args.turns), turns("realistic", args.turns)
    print(f"turn figures: median s from ask(), {args.turns} turns a profile, media on\n")
    print("| moment | fast | realistic | ratio | seen (fast, realistic) |")
    print("| --- | --- | --- | --- | --- |")
    for moment in MOMENTS:
        a, b = median(fast, moment), median(realistic, moment)
        ratio = f"{b / a:.1f}" if a and b else "-"
        seen = f"{sum(getattr(r, moment) is not None for r in fast)}/{len(fast)}, "
        seen += f"{sum(getattr(r, moment) is not None for r in realistic)}/{len(realistic)}"
        print(f"| {moment} | {cell(a)} | {cell(b)} | {ratio} | {seen} |")
    offsets = [
        r.mouth_moving - r.first_voice
        for r in (*fast, *realistic)
        if r.mouth_moving is not None and r.first_voice is not None
    ]
    if offsets:
        print(
            f"\nmouth_moving - first_voice over {len(offsets)} turns: median "
            f"{statistics.median(offsets) * 1000:+.0f} ms, "
            f"range {min(offsets) * 1000:+.0f} to {max(offsets) * 1000:+.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

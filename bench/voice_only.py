"""Voice-only sessions (``video=False``) against the default, side by side: the CPU a session
costs this process, per minute of conversation.

Reproduce:  .venv/bin/python bench/voice_only.py [--seconds 30] [--rounds 2]

The local server runs in a child process (bench/server_process.py), so the figures are the
client's alone. Each round runs one default session and one voice-only session in turn, for
``--seconds`` each: connected, the media flowing, a question asked by text every 5 s, so the
avatar talks through much of it. The picture (512x512 at 25 fps) arrives in both; the voice-only
client drops it undecoded. CPU is this process's (``time.process_time()``), from connect to
close, in CPU seconds per minute.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from server_process import ServerProcess

import navtalk_sync as nt

QUESTION = "Tell me about the weather today and tomorrow, please."


def session(url: str, seconds: float, video: bool) -> dict[str, float]:
    started = time.process_time()
    began = time.monotonic()
    with nt.NavTalkClient(
        "sk_navtalk_bench", avatar_name="navtalk.Leo", url=url, video=video
    ) as client:
        client.connect(timeout=30)
        while time.monotonic() - began < seconds:
            client.send_text(QUESTION)
            time.sleep(min(5.0, max(0.0, seconds - (time.monotonic() - began))))
        stats = client.stats()
    cpu = time.process_time() - started
    wall = time.monotonic() - began
    return {
        "cpu_per_minute": 60 * cpu / wall,
        "video_frames": float(stats.get("video_frames_received", 0)),
        "voice_chunks": float(stats.get("avatar_audio_received", 0)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"default": [], "video=False": []}
    with ServerProcess() as server:
        for _ in range(args.rounds):
            results["default"].append(session(server.url, args.seconds, video=True))
            results["video=False"].append(session(server.url, args.seconds, video=False))
    print(
        f"voice-only vs default, {args.rounds} x {args.seconds:g} s each; reproduce: "
        f"python bench/voice_only.py --seconds {args.seconds:g} --rounds {args.rounds}\n"
    )
    print(
        "| session | CPU s per minute (median) | ratio to default | video frames decoded "
        "| voice chunks |"
    )
    print("| --- | --- | --- | --- | --- |")
    base = statistics.median(r["cpu_per_minute"] for r in results["default"])
    for name, runs in results.items():
        cpu = statistics.median(r["cpu_per_minute"] for r in runs)
        frames = statistics.median(r["video_frames"] for r in runs)
        chunks = statistics.median(r["voice_chunks"] for r in runs)
        print(f"| {name} | {cpu:.2f} | {cpu / base:.2f} | {frames:.0f} | {chunks:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

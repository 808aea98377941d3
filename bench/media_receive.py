"""Receiving the avatar's picture: time to first frame and CPU, beside hand-written asyncio.

Reproduce:  .venv/bin/python bench/media_receive.py [--rounds 3] [--seconds 10]

The local server runs in a child process (so its VP8 encoding is not counted) and sends its
512x512 face at 25 fps with its voice. In this process, one after the other:

- ``asyncio + aiortc by hand`` (the baseline): ``websockets`` for the socket, an aiortc answerer,
  both tracks drained, every video frame converted to an RGB numpy array;
- ``NavTalkClient``: the library with no consumer (frames are drained, not converted);
- ``NavTalkClient + on_video_frame``: a callback receiving every frame as RGB numpy, the same
  work as the baseline.

For each: seconds from the start of the connection to the first decoded frame, and the CPU this
process used per second of receiving (user + system, from getrusage; 1.0 = one core busy).
Prints the medians and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import time

import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

import navtalk_sync as nt
from navtalk_sync import messages
from navtalk_sync.rtc.ice import configuration, restrict_host_candidates

SERVER_SCRIPT = """
import sys
from navtalk_sync.server import LocalServer
with LocalServer(accept_any_license=True) as server:
    print(server.url, flush=True)
    sys.stdin.read()
"""


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def navtalk_round(url: str, seconds: float, convert: bool) -> tuple[float, float]:
    started = time.perf_counter()
    with nt.NavTalkClient("sk_bench", url=url, avatar_name="navtalk.Leo") as client:
        if convert:
            client.on_video_frame(lambda frame: None)
        client.connect(timeout=15)
        client.wait_for_video(timeout=15)
        first = time.perf_counter() - started
        cpu, wall = cpu_seconds(), time.perf_counter()
        time.sleep(seconds)
        load = (cpu_seconds() - cpu) / (time.perf_counter() - wall)
    return first, load


async def _baseline(url: str, seconds: float) -> tuple[float, float]:
    started = time.perf_counter()
    first_frame = asyncio.get_running_loop().create_future()
    pc = RTCPeerConnection(configuration())

    async def drain(track):
        try:
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    frame.to_ndarray(format="rgb24")
                    if not first_frame.done():
                        first_frame.set_result(time.perf_counter() - started)
        except MediaStreamError:
            pass

    tasks = []
    pc.on("track", lambda track: tasks.append(asyncio.ensure_future(drain(track))))
    async with websockets.connect(f"{url}?license=sk_bench&name=navtalk.Leo") as ws:
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "webrtc.signaling.offer":
                offer = RTCSessionDescription(message["data"]["sdp"]["sdp"], "offer")
                await pc.setRemoteDescription(offer)
                await pc.setLocalDescription(await pc.createAnswer())
                answer = messages.signaling_answer(pc.localDescription.sdp)
                await ws.send(messages.encode(answer))
                break
        first = await asyncio.wait_for(first_frame, 15)
        cpu, wall = cpu_seconds(), time.perf_counter()
        await asyncio.sleep(seconds)
        load = (cpu_seconds() - cpu) / (time.perf_counter() - wall)
        await pc.close()
    for task in tasks:
        task.cancel()
    return first, load


def baseline_round(url: str, seconds: float) -> tuple[float, float]:
    return asyncio.run(_baseline(url, seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    restrict_host_candidates(["127.0.0.1"])
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().decode().strip()
        runs = {
            "asyncio + aiortc by hand (RGB)": lambda: baseline_round(url, args.seconds),
            "NavTalkClient (no consumer)": lambda: navtalk_round(url, args.seconds, False),
            "NavTalkClient + on_video_frame (RGB)": lambda: navtalk_round(url, args.seconds, True),
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
        for _ in range(args.rounds):
            for name, run in runs.items():
                results[name].append(run())
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(10)
    print_table(results, args)


def print_table(results: dict[str, list[tuple[float, float]]], args: argparse.Namespace) -> None:
    medians = {
        name: (statistics.median(r[0] for r in rows), statistics.median(r[1] for r in rows))
        for name, rows in results.items()
    }
    base_first, base_cpu = next(iter(medians.values()))
    print(f"512x512 @ 25 fps + voice, {args.rounds} rounds, {args.seconds:g} s each (medians)")
    print("| client | first frame s | ratio | CPU (cores) | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for name, (first, cpu) in medians.items():
        print(
            f"| {name} | {first:.3f} | {first / base_first:.2f} | {cpu:.3f} | "
            f"{cpu / base_cpu:.2f} |"
        )


if __name__ == "__main__":
    main()

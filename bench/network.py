"""Networks as users have them, side by side in one run: TLS, a proxy, TURN relays, a slow link.

Reproduce:  .venv/bin/python bench/network.py [--runs 9]

Needs Debian's tinyproxy and coturn (``.ci/system-deps`` installs them). Everything runs on
127.0.0.1: the local server (in this process), tinyproxy, coturn, and the userspace relays of
``tests/rigs/impair.py`` for the slow link. Three tables:

1. Handshake, ``connect()`` until ``realtime.session.updated`` (text only): ``ws://``,
   ``wss://`` (the server's throwaway CA trusted with ``ca_file=``) and ``wss://`` through
   tinyproxy; median and 95th percentile of ``--runs``, ratio to ``ws://``.
2. First frame, ``connect()`` until the first video frame: direct (host candidates), and
   relay-only through coturn over UDP, TCP and TLS; ratio to direct.
3. At 100 ms round trip (a TCP relay on the WebSocket and a UDP relay in front of coturn,
   50 ms each way, media relay-only), the library beside the hand-written asyncio client of
   ``bench/side_by_side/bare_asyncio.py`` through the same relays: first frame, and a typed
   question's answer (sent until ``audio_transcript.done``); ratio ours / bare.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import navtalk_sync as nt
from bench.side_by_side.bare_asyncio import BareClient
from navtalk_sync.server import LocalServer
from tests.rigs import coturn, tinyproxy
from tests.rigs.impair import Link, Relay

QUESTION = "What can you do?"


def timed(runs: int, once: Callable[[], float]) -> list[float]:
    once()  # warm-up: first-use costs (imports, the encoder), not counted
    return [once() for _ in range(runs)]


def connect_time(server: LocalServer, **settings: Any) -> float:
    client = nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url,
                              media=False, **settings)  # fmt: skip
    with client:
        started = time.perf_counter()
        client.connect(timeout=30)
        return time.perf_counter() - started


def first_frame_time(server: LocalServer, url: str | None = None, **settings: Any) -> float:
    client = nt.NavTalkClient(server.license, avatar_name="navtalk.Leo",
                              url=url or server.url, **settings)  # fmt: skip
    with client:
        started = time.perf_counter()
        client.connect(timeout=30)
        client.wait_for_video(timeout=30)
        return time.perf_counter() - started


def answer_time(server: LocalServer, url: str, **settings: Any) -> float:
    client = nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=url, **settings)
    with client:
        client.connect(timeout=30)
        client.wait_for_video(timeout=30)
        started = time.perf_counter()
        client.ask(QUESTION, timeout=30)  # returns on the reply's final text
        return time.perf_counter() - started


async def bare_times(
    server: LocalServer, url: str, ice: list[dict[str, Any]]
) -> tuple[float, float]:
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def on_message(message: dict[str, Any]) -> None:
        if message.get("type") == "realtime.response.audio_transcript.done" and not done.done():
            done.set_result(time.perf_counter())

    client = BareClient(url, license=server.license, on_message=on_message, ice_servers=ice,
                        relay_only=True)  # fmt: skip
    started = time.perf_counter()
    await client.open()
    try:
        first = await asyncio.wait_for(client.first_frame, 30) - started
        asked = time.perf_counter()
        await client.send_text(QUESTION)
        answered = await asyncio.wait_for(done, 30) - asked
    finally:
        await client.close()
    return first, answered


def row(name: str, values: list[float], baseline: list[float] | None) -> str:
    median = statistics.median(values)
    p95 = sorted(values)[max(0, round(0.95 * len(values)) - 1)]
    ratio = median / statistics.median(baseline) if baseline else 1.0
    return f"| {name} | {median * 1000:.0f} | {p95 * 1000:.0f} | {ratio:.2f} |"


def header(title: str) -> None:
    print(f"\n{title}\n\n| path | median ms | p95 ms | ratio |\n| --- | --- | --- | --- |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="navtalk-bench-network-"))
    proxy = tinyproxy.start(folder / "proxy")
    turn = coturn.start(folder / "turn")
    os.environ["SSL_CERT_FILE"] = turn.ca_file  # aioice checks turns: against the default store
    try:
        handshakes(args.runs, proxy)
        first_frames(max(3, args.runs // 2), turn)
        slow_link(max(3, args.runs // 3), turn)
    finally:
        proxy.stop()
        turn.stop()
    return 0


def handshakes(runs: int, proxy: tinyproxy.TinyProxy) -> None:
    header(f"1. connect() to session.updated, text only ({runs} runs)")
    with LocalServer() as plain, LocalServer(tls=True) as secure:
        ws = timed(runs, lambda: connect_time(plain))
        wss = timed(runs, lambda: connect_time(secure, ca_file=secure.ca_file))
        proxied = timed(runs, lambda: connect_time(secure, ca_file=secure.ca_file,
                                                   proxy=proxy.url))  # fmt: skip
    print(row("ws://", ws, ws))
    print(row("wss://", wss, ws))
    print(row("wss:// through tinyproxy", proxied, ws))


def first_frames(runs: int, turn: coturn.Coturn) -> None:
    header(f"2. connect() to the first video frame ({runs} runs)")
    with LocalServer() as direct:
        baseline = timed(runs, lambda: first_frame_time(direct))
    print(row("direct (host candidates)", baseline, baseline))
    for transport in ("udp", "tcp", "tls"):
        with LocalServer(ice_servers=[turn.ice_server(transport)]) as server:
            times = timed(runs, lambda: first_frame_time(server, ice_transport_policy="relay"))
        print(row(f"relay-only, TURN over {transport.upper()}", times, baseline))


def slow_link(runs: int, turn: coturn.Coturn) -> None:
    header(f"3. at 100 ms round trip, ours beside hand-written asyncio ({runs} runs)")
    media = Relay.udp(("127.0.0.1", turn.port), Link(delay=0.05))
    ice = [{"urls": [f"turn:127.0.0.1:{media.port}?transport=udp"],
            "username": coturn.USERNAME, "credential": coturn.PASSWORD}]  # fmt: skip
    try:
        with (
            LocalServer(ice_servers=ice) as server,
            Relay.tcp(("127.0.0.1", server.port), Link(delay=0.05)) as socket_relay,
        ):
            url = server.url.replace(f":{server.port}/", f":{socket_relay.port}/")
            relay = {"ice_transport_policy": "relay"}
            ours_first = timed(runs, lambda: first_frame_time(server, url, **relay))
            ours_answer = timed(runs, lambda: answer_time(server, url, **relay))
            bare = [asyncio.run(bare_times(server, url, ice)) for _ in range(runs + 1)][1:]
    finally:
        media.close()
    bare_first, bare_answer = [b[0] for b in bare], [b[1] for b in bare]
    print(row("first frame, hand-written asyncio", bare_first, bare_first))
    print(row("first frame, navtalk_sync", ours_first, bare_first))
    print(row("answer, hand-written asyncio", bare_answer, bare_answer))
    print(row("answer, navtalk_sync", ours_answer, bare_answer))


if __name__ == "__main__":
    sys.exit(main())

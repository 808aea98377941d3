"""The network matrix with times: every path of tests/network/test_matrix.py, once each.

Reproduce:  .venv/bin/python bench/network_matrix.py

Needs Debian's tinyproxy and coturn. For each cell ({ws, wss, wss through tinyproxy} x {direct,
TURN over UDP, TCP, TLS} x {clean, slow: 50 ms each way, 20 ms jitter, 2 % loss on UDP}; see
tests/rigs/paths.py) one session: the time from ``connect()`` to the first video frame, the
time ``ask()`` takes, and the candidate pair the media used. One warm-up session first.
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import navtalk_sync as nt
from navtalk_sync.server import LocalServer
from tests.rigs import coturn, paths, tinyproxy


def cell(socket_way: str, media_way: str, link: str, proxy: Any, turn: Any) -> str:
    servers: list[LocalServer] = []

    def make_server(**options: Any) -> LocalServer:
        servers.append(LocalServer(**options).start())
        return servers[-1]

    path = paths.build(make_server, socket_way, media_way, link, proxy, turn)
    try:
        client = nt.NavTalkClient(
            path.server.license, avatar_name="navtalk.Leo", url=path.url, **path.settings
        )
        with client:
            started = time.perf_counter()
            client.connect(timeout=30)
            client.wait_for_video(timeout=30)
            first = time.perf_counter() - started
            asked = time.perf_counter()
            client.ask("What can you do?", timeout=30)
            answer = time.perf_counter() - asked
            pair = client.stats()["network"]["candidate_pair"] or {}
        way = pair.get("local", "?") + (
            f"/{pair['relay_protocol']}" if "relay_protocol" in pair else ""
        )
        times = f"{first * 1000:.0f} | {answer * 1000:.0f}"
        return f"| {socket_way} | {media_way} | {link} | ok | {times} | {way} |"
    except nt.NavTalkError as exc:
        return f"| {socket_way} | {media_way} | {link} | {type(exc).__name__} | - | - | - |"
    finally:
        path.close()
        for server in servers:
            server.stop()


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="navtalk-bench-matrix-"))
    proxy = tinyproxy.start(folder / "proxy")
    turn = coturn.start(folder / "turn")
    os.environ["SSL_CERT_FILE"] = turn.ca_file  # aioice checks turns: against the default store
    try:
        cell("ws", "direct", "clean", proxy, turn)  # warm-up
        print("| socket | media | link | outcome | first frame ms | ask ms | pair used |")
        print("| --- | --- | --- | --- | --- | --- | --- |")
        for socket_way, media_way, link in itertools.product(
            paths.SOCKETS, paths.MEDIA, paths.LINKS
        ):
            print(cell(socket_way, media_way, link, proxy, turn), flush=True)
    finally:
        proxy.stop()
        turn.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""close() latency, side by side with websocket-client's own close(), against the local server.

Reproduce:  .venv/bin/python bench/close_latency.py [--rounds 5]

Two peers: one that answers the close handshake, and one that has gone silent (the server stops
reading: no pong, no close reply). The baseline is the obvious hand-written client: a reader
thread blocked in ``ws.recv()`` and ``ws.close()`` called from the main thread, which is what
websocket-client issue #916 is about. Prints a table of median and worst times and the ratio
to the baseline.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import websocket

import navtalk_sync as nt
from navtalk_sync.server import LocalServer


def baseline_close(server: LocalServer, silent: bool) -> float:
    """websocket-client by hand: a reader thread in recv(), close() from the main thread."""
    ws = websocket.create_connection(f"{server.url}?license={server.license}&name=navtalk.Leo")
    while True:  # until the session is ready
        if "realtime.session.updated" in ws.recv():
            break
    reader = threading.Thread(target=_drain, args=(ws,), daemon=True)
    reader.start()
    if silent:
        server.freeze_connections()
    started = time.perf_counter()
    # close() waits for the reader's frame lock, and closing the socket does not wake a thread
    # blocked in recv() on it: run it aside and give both a while.
    closer = threading.Thread(target=ws.close, daemon=True)
    closer.start()
    closer.join(STUCK_AFTER)
    reader.join(max(0.0, STUCK_AFTER - (time.perf_counter() - started)))
    elapsed = time.perf_counter() - started
    if closer.is_alive() or reader.is_alive():
        return float("inf")  # close() or the reader never came back
    return elapsed


#: How long the baseline's close() and reader get before they count as stuck.
STUCK_AFTER = 15.0


def _drain(ws: websocket.WebSocket) -> None:
    try:
        while ws.recv():
            pass
    except Exception:
        pass


def navtalk_close(server: LocalServer, silent: bool) -> float:
    client = nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url)
    client.connect(timeout=10)
    if silent:
        server.freeze_connections()
    started = time.perf_counter()
    client.close()
    return time.perf_counter() - started


def measure(fn, silent: bool, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        with LocalServer() as server:
            times.append(fn(server, silent))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"close() latency, {args.rounds} rounds each (seconds)\n")
    print(f"(inf: close() or the reader thread was still blocked {STUCK_AFTER:g} s later)\n")
    print(f"{'peer':<10} {'client':<28} {'median':>8} {'worst':>8} {'ratio':>7}")
    for silent in (False, True):
        peer = "silent" if silent else "answering"
        base = measure(baseline_close, silent, args.rounds)
        ours = measure(navtalk_close, silent, args.rounds)
        ratio = statistics.median(ours) / statistics.median(base)  # inf base -> 0.00
        for name, times, shown in (
            ("websocket-client close()", base, "1.00"),
            ("NavTalkClient.close()", ours, f"{ratio:.2f}"),
        ):
            print(
                f"{peer:<10} {name:<28} {statistics.median(times):>8.3f} "
                f"{max(times):>8.3f} {shown:>7}"
            )


if __name__ == "__main__":
    main()

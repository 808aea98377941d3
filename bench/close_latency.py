"""close() latency, side by side with websocket-client's own close(), against the local server.

Reproduce:  .venv/bin/python bench/close_latency.py [--rounds 5]

Two peers: one that answers the close handshake, and one that has gone silent (the server stops
reading: no pong, no close reply). The baseline is the obvious hand-written client: a reader
thread blocked in ``ws.recv()`` and ``ws.close()`` called from the main thread, which is what
websocket-client issue #916 is about. Prints a table of median and worst times and the ratio
to the baseline.

A second table times ``NavTalkClient.close()`` (budget: ``close_timeout``, 1 s) in every state
a client can be in, mid-connect and mid-reconnect included, against the plain ready session.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
import time
from typing import Callable

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


# --------------------------------------------------------------------------- every state


def _connect_aside(client: nt.NavTalkClient) -> threading.Thread:
    def run() -> None:
        try:
            client.connect(timeout=30)
        except nt.NavTalkError:
            pass  # the close() under test ends it

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("the client did not reach the state to close in")
        time.sleep(0.005)


def _client(server: LocalServer, **kw) -> nt.NavTalkClient:
    return nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url, **kw)


def _ready(server: LocalServer) -> nt.NavTalkClient:
    client = _client(server, media=False)
    client.connect(timeout=10)
    return client


def _live(server: LocalServer) -> nt.NavTalkClient:
    client = _client(server)
    client.connect(timeout=10)
    client.wait_for_video(timeout=10)
    return client


def _handshake_unanswered(server: LocalServer) -> nt.NavTalkClient:
    listener = socket.socket()  # the kernel accepts the TCP connection; nobody answers
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    client = nt.NavTalkClient("sk_bench", avatar_name="a", url=f"ws://127.0.0.1:{port}")
    _connect_aside(client)
    _until(lambda: client.state == "connecting")
    client._bench_listener = listener  # type: ignore[attr-defined]  # closed after the run
    return client


def _setup_stalled(server: LocalServer) -> nt.NavTalkClient:
    server.faults.stall_before_session_updated = True
    client = _client(server)
    _connect_aside(client)
    _until(lambda: client.state == "connected")
    return client


def _silent(server: LocalServer) -> nt.NavTalkClient:
    client = _ready(server)
    server.freeze_connections()
    return client


def _in_backoff(server: LocalServer) -> nt.NavTalkClient:
    client = _client(server, media=False, reconnect=nt.ReconnectPolicy(first_delay=30))
    client.connect(timeout=10)
    server.drop_connections()
    _until(lambda: client.state == "reconnecting")
    return client


def _in_attempt(server: LocalServer) -> nt.NavTalkClient:
    client = _client(server, reconnect=nt.ReconnectPolicy(first_delay=0.05))
    client.connect(timeout=10)
    server.faults.stall_before_session_updated = True
    server.drop_connections()
    _until(lambda: len(server.connections) == 2 and client.state == "connected")
    return client


#: Released once a round is over: what the states below leave hanging in user code.
_RELEASE = threading.Event()


def _callback_blocked(server: LocalServer) -> nt.NavTalkClient:
    client = _client(server, media=False)
    client.connect(timeout=10)
    entered = threading.Event()

    def block(event: object) -> None:
        entered.set()
        _RELEASE.wait(30)

    client.on("realtime.response.audio_transcript.delta", block)
    client.send_text("hello")
    _until(entered.is_set)
    return client


def _user_code_hung(server: LocalServer) -> nt.NavTalkClient:
    client = _client(server, media=False)

    def hang() -> str:
        """Hangs."""
        _RELEASE.wait(30)
        return "late"

    client.add_tool(hang, timeout=60)
    client.connect(timeout=10)
    client.start_image_feed(lambda: _RELEASE.wait(30) and None)
    for index in range(4):
        server.send_event({"type": "realtime.response.function_call_arguments.done",
                           "data": {"function_name": "hang", "call_id": f"h{index}"}})  # fmt: skip
    time.sleep(0.3)
    return client


STATES: dict[str, Callable[[LocalServer], nt.NavTalkClient]] = {
    "session_ready (baseline)": _ready,
    "live (video flowing)": _live,
    "connecting (no handshake)": _handshake_unanswered,
    "connected (setup stalled)": _setup_stalled,
    "server gone silent": _silent,
    "reconnecting: backoff": _in_backoff,
    "reconnecting: attempt": _in_attempt,
    "a callback blocked": _callback_blocked,
    "4 tools + image source hung": _user_code_hung,
}


def close_in(state: Callable[[LocalServer], nt.NavTalkClient], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        with LocalServer() as server:
            _RELEASE.clear()
            client = state(server)
            started = time.perf_counter()
            client.close()
            times.append(time.perf_counter() - started)
            _RELEASE.set()
            listener = getattr(client, "_bench_listener", None)
            if listener is not None:
                listener.close()
    return times


def every_state(rounds: int) -> None:
    print(f"\nNavTalkClient.close() in every state, {rounds} rounds each (budget 1 s)\n")
    print(f"{'state':<28} {'median':>8} {'worst':>8} {'ratio':>7}")
    baseline = None
    for name, state in STATES.items():
        times = close_in(state, rounds)
        median = statistics.median(times)
        baseline = baseline or median
        print(f"{name:<28} {median:>8.3f} {max(times):>8.3f} {median / baseline:>7.2f}")


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
    every_state(args.rounds)


if __name__ == "__main__":
    main()

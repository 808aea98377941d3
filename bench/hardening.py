"""The hardening figures, this tree beside an earlier one, in one run.

Reproduce:  .venv/bin/python bench/hardening.py [--baseline REF]

Each figure is taken in a fresh child process, once with this tree's ``navtalk_sync`` and, with
``--baseline REF`` (a git commit, e.g. the one before a change), once with that commit's,
checked out into a temporary worktree (each with its own local server). Only the public API
both have is used; a baseline that fails a measure shows what it raised. Prints one table:
ours, the baseline, and the ratio (ours / baseline).

The figures (the promises of docs/guides/reliability.md's "Guarantees"):

1. ``close(0.5)`` while an ``on()`` callback is blocked: seconds (the budget is 0.5).
2. ``close(1.0)`` while four tools and the image source hang: seconds, and the client threads
   still running afterwards that are not stuck in user code.
3. A tool call with a 0.5 s timeout while four tools hang: seconds until it is answered.
4. A tool call's arguments sent as 10,000 and as 40,000 fragments: seconds from the first
   fragment to the answer (linear work: the second is about 4 times the first).
5. 20,000 ``wait_for()`` calls after the session ended: the traceback's depth of the last error
   and the growth of RSS.
6. A frame whose header announces 1.5 GB, of which 200 MB arrive: RSS growth, and whether the
   session ended.
7. 5,000 events past a full dispatcher queue: warning lines logged for the reader's pauses.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent


# --------------------------------------------------------------------------- measures


def _server(**options: Any) -> Any:
    from navtalk_sync.server import LocalServer

    return LocalServer(**options).start()


def _client(server: Any, **options: Any) -> Any:
    import navtalk_sync as nt

    return nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url, **options)


def _block_a_callback(client: Any, release: threading.Event) -> None:
    entered = threading.Event()

    def block(event: Any) -> None:
        entered.set()
        release.wait(30)

    client.on("realtime.response.audio_transcript.delta", block)
    client.send_text("hello there")
    entered.wait(10)


def close_with_a_blocked_callback() -> dict[str, Any]:
    server = _server()
    release = threading.Event()
    client = _client(server, media=False)
    client.connect(timeout=10)
    _block_a_callback(client, release)
    started = time.perf_counter()
    client.close(timeout=0.5)
    took = time.perf_counter() - started
    release.set()
    server.stop()
    return {"seconds": took}


def _call(server: Any, name: str, call_id: str) -> None:
    server.send_event({"type": "realtime.response.function_call_arguments.done",
                       "data": {"function_name": name, "call_id": call_id}})  # fmt: skip


def _outputs(server: Any) -> dict[str, str]:
    items = [m.message["item"] for m in server.messages("conversation.item.create")]
    return {i["call_id"]: i["output"] for i in items if i["type"] == "function_call_output"}


def _with_hanging_tool(server: Any, release: threading.Event, timeout: float) -> Any:
    """A client with a tool ``hang`` that returns once ``release`` is set."""
    client = _client(server, media=False)

    def hang() -> str:
        """Hangs."""
        release.wait(30)
        return "late"

    client.add_tool(hang, timeout=timeout)
    return client


def close_with_hung_tools() -> dict[str, Any]:
    server = _server()
    release = threading.Event()
    client = _with_hanging_tool(server, release, timeout=60)
    client.connect(timeout=10)
    client.start_image_feed(lambda: release.wait(30) and None)
    for index in range(4):
        _call(server, "hang", f"h{index}")
    time.sleep(0.5)
    started = time.perf_counter()
    client.close(timeout=1.0)
    took = time.perf_counter() - started
    stuck = {"navtalk-image", *(f"navtalk-tool-{i}" for i in range(4))}
    left = sorted(
        t.name
        for t in threading.enumerate()
        if t.name.startswith("navtalk-")
        and not t.name.startswith("navtalk-local-server")
        and t.name not in stuck
    )
    release.set()
    server.stop()
    return {"seconds": took, "others left": len(left)}


def tool_call_behind_hung_workers() -> dict[str, Any]:
    server = _server()
    release = threading.Event()
    client = _with_hanging_tool(server, release, timeout=30)

    def quick() -> str:
        """Quick."""
        return "quick"

    client.add_tool(quick, timeout=0.5)
    client.connect(timeout=10)
    for index in range(4):
        _call(server, "hang", f"h{index}")
    time.sleep(0.3)
    started = time.perf_counter()
    _call(server, "quick", "q")
    took = float("inf")
    while time.perf_counter() - started < 5:
        if "q" in _outputs(server):
            took = time.perf_counter() - started
            break
        time.sleep(0.01)
    release.set()
    client.close()
    server.stop()
    return {"seconds": took}


def _fragments(count: int) -> float:
    from navtalk_sync.server import Faults

    piece = json.dumps({"type": "realtime.response.function_call_arguments.delta",
                        "data": {"call_id": "c1", "delta": "x"}})  # fmt: skip
    done = json.dumps({"type": "realtime.response.function_call_arguments.done",
                       "data": {"call_id": "c1", "function_name": "count"}})  # fmt: skip
    server = _server(faults=Faults(frames_before_reply=[piece] * count + [done]))
    client = _client(server, media=False)

    def count_it(text: str = "") -> int:
        """Counts."""
        return len(text)

    client.add_tool(count_it, name="count")
    seen = threading.Event()
    first: list[float] = []
    client.on(
        "realtime.response.function_call_arguments.delta",
        lambda e: first or first.append(time.perf_counter()),
    )
    client.connect(timeout=10)
    client.send_text("hello")
    deadline = time.perf_counter() + 120
    while "c1" not in _outputs(server) and time.perf_counter() < deadline:
        time.sleep(0.005)
    took = time.perf_counter() - first[0] if first and "c1" in _outputs(server) else float("inf")
    seen.set()
    client.close()
    server.stop()
    return took


def argument_fragments() -> dict[str, Any]:
    small, large = _fragments(10_000), _fragments(40_000)
    return {"10k fragments s": small, "40k fragments s": large, "40k / 10k": large / small}


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def repeated_raises() -> dict[str, Any]:
    import navtalk_sync as nt

    server = _server()
    client = _client(server, media=False)
    client.connect(timeout=10)
    server.close_connections(code=4000, reason="gone")
    while client.state != "closed":
        time.sleep(0.01)
    before = _rss_mb()
    depth = 0
    for _ in range(20_000):
        try:
            client.wait_for("*", timeout=1)
        except nt.NavTalkError as exc:
            depth, tb = 0, exc.__traceback__
            while tb is not None:
                depth, tb = depth + 1, tb.tb_next
    grown = _rss_mb() - before
    client.close()
    server.stop()
    return {"traceback depth": depth, "RSS growth MB": grown}


def huge_frame() -> dict[str, Any]:
    import navtalk_sync as nt

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    done = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            request += conn.recv(4096)
        key = next(
            line.split(b":", 1)[1].strip()
            for line in request.split(b"\r\n")
            if line.lower().startswith(b"sec-websocket-key")
        )
        digest = hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
        conn.sendall(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + base64.b64encode(digest) + b"\r\n\r\n"
        )
        try:
            conn.sendall(bytes([0x81, 127]) + (1_500_000_000).to_bytes(8, "big"))
            chunk = b"x" * 1_000_000
            for _ in range(200):
                conn.sendall(chunk)
        except OSError:
            pass  # the client refused it
        done.wait(30)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    url = f"ws://127.0.0.1:{listener.getsockname()[1]}"
    client = nt.NavTalkClient("sk_bench_x", avatar_name="a", url=url, connect_timeout=8)
    before = _rss_mb()
    ended = "yes"
    try:
        client.connect(timeout=8)
    except nt.NavTalkTimeout:
        ended = "no (timed out waiting)"
    except nt.NavTalkError:
        pass
    grown = _rss_mb() - before
    done.set()
    client.close()
    listener.close()
    return {"RSS growth MB": grown, "session ended": ended}


def pause_warnings() -> dict[str, Any]:
    import logging

    from navtalk_sync.server import Faults

    lines: list[str] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "the reader pauses" in record.getMessage():
                lines.append(record.getMessage())

    logging.getLogger("navtalk_sync").addHandler(Count())
    logging.getLogger("navtalk_sync").setLevel(logging.WARNING)
    burst = json.dumps({"type": "realtime.response.audio_transcript.delta",
                        "data": {"content": "x"}})  # fmt: skip
    server = _server(faults=Faults(frames_before_reply=[burst] * 5000))
    client = _client(server, media=False, event_queue_size=2)
    delivered: list[int] = []
    client.on("realtime.response.audio_transcript.delta",
              lambda e: (time.sleep(0.0002), delivered.append(1)))  # fmt: skip
    client.connect(timeout=10)
    client.send_text("hello")
    deadline = time.perf_counter() + 60
    while len(delivered) < 5000 and time.perf_counter() < deadline:
        time.sleep(0.05)
    pauses = client.stats()["dispatch_reader_waits"]
    client.close()
    server.stop()
    return {"pauses": pauses, "warning lines": len(lines)}


MEASURES: dict[str, Callable[[], dict[str, Any]]] = {
    "1 close(0.5), callback blocked": close_with_a_blocked_callback,
    "2 close(1.0), tools + source hung": close_with_hung_tools,
    "3 call behind 4 hung tools": tool_call_behind_hung_workers,
    "4 argument fragments": argument_fragments,
    "5 20k wait_for() after the end": repeated_raises,
    "6 1.5 GB frame announced": huge_frame,
    "7 reader pause warnings": pause_warnings,
}


if __name__ == "__main__":
    import versus

    versus.main("hardening", __doc__.splitlines()[0], MEASURES)

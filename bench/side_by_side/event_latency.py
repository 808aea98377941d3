"""Row 1, event latency: the server's send timestamp -> the user's code, at 100, 1 000 and
5 000 events/s.

The server (a child process) sends reply-text deltas whose text is its ``time.monotonic_ns()``
taken just before the frame is written (``navtalk_sync.server.stamps``). Three clients take the
same stream in turn on the same server, one connection open at a time, in a rotating order
each round so drift weighs on all of them; each reads the stamp where a user's code would and
subtracts it from its own ``time.monotonic_ns()`` (one clock for every process on Linux):

- ours: ``NavTalkClient(media=False)``, the stamp read in a callback registered with
  ``client.on(ResponseTranscriptDelta, ...)``: socket, reader thread, parsing into a typed
  event, the dispatcher thread's hand-off, the callback;
- ``asyncio websockets`` (the baseline of the target): ``async for raw in ws: json.loads(raw)``
  and the stamp read right there;
- ``websocket-client recv``: ``ws.recv()`` then ``json.loads`` on one thread.

Every client does the same handshake (``?license=...&name=...``, then reads until
``realtime.session.updated``) and takes a short warm-up stream that is not counted. Two lines
per rate: ours against each baseline (our figures are the same on both lines). A last line:
the CPU time this process spent per event at the highest rate (all its threads, from
``time.process_time()`` around each stream; the server's is its own), which busy shared cores
disturb far less than latency.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any, Callable, Sequence

import attrs
import websocket
import websockets

import navtalk_sync as nt
from navtalk_sync.events import ResponseTranscriptDelta, SessionUpdated
from navtalk_sync.server.stamps import STAMP_RESPONSE_ID, stamp_latency

from ..server_process import ServerProcess
from .plan import Plan
from .report import Figures, Measure, progress

LICENSE = "sk_bench"
AVATAR = "navtalk.Leo"
#: Events a second, and how many seconds of each a client takes per round (full run).
RATES = {100: 2.0, 1000: 1.5, 5000: 1.0}
ROUNDS = 3
#: Deltas every connection takes first, not counted (first-use costs: imports, caches).
WARM_UP = (1000, 50)
#: The rate the absolute target is about, and that target (seconds).
TARGET_RATE = 1000
TARGET_P99 = 0.002
TARGET_RATIO = 1.2
#: A stream not received within its own duration plus this is a failure, not a figure.
SLACK = 15.0

OURS = "navtalk_sync"
ASYNCIO = "asyncio websockets"
WS_CLIENT = "websocket-client recv"

#: One stream: (events a second, how many).
Stream = tuple[int, int]


@attrs.define
class Received:
    """What one client took of one stream (or of several, added up): each event's latency in
    seconds, and the CPU seconds this process spent from asking for the stream to its end."""

    latencies: list[float] = attrs.Factory(list)
    cpu_seconds: float = 0.0

    def add(self, other: Received) -> None:
        self.latencies.extend(other.latencies)
        self.cpu_seconds += other.cpu_seconds


#: Opens a connection, takes each stream in turn, closes; returns what each stream gave.
Client = Callable[[ServerProcess, Sequence[Stream]], list[Received]]


def run(plan: Plan) -> list[Measure]:
    streams = [(rate, max(5, round(rate * plan.seconds(s, 0.1)))) for rate, s in RATES.items()]
    clients: dict[str, Client] = {OURS: ours, ASYNCIO: asyncio_baseline, WS_CLIENT: ws_baseline}
    names = list(clients)
    by_rate = {rate: {name: Received() for name in names} for rate in RATES}
    with ServerProcess() as server:
        for round_index in range(plan.count(ROUNDS, 1)):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:  # ours first, then second, ...
                progress(1, f"round {round_index + 1}: {name}")
                received = clients[name](server, [WARM_UP, *streams])[1:]
                for (rate, _), got in zip(streams, received, strict=True):
                    by_rate[rate][name].add(got)
    latency = [m for rate in RATES for m in _latency_measures(rate, by_rate[rate])]
    return [*latency, _cpu_measure(max(RATES), by_rate[max(RATES)])]


def _latency_measures(rate: int, by_client: dict[str, Received]) -> list[Measure]:
    ours_ms, versus_asyncio, versus_ws = (
        Figures.of([v * 1000 for v in by_client[name].latencies])
        for name in (OURS, ASYNCIO, WS_CLIENT)
    )
    absolute = rate == TARGET_RATE
    met = ours_ms.p50 <= TARGET_RATIO * versus_asyncio.p50
    target = f"ratio <= {TARGET_RATIO}"
    if absolute:
        assert ours_ms.p99 is not None
        met = met and ours_ms.p99 < TARGET_P99 * 1000
        target += f", p99 < {TARGET_P99 * 1000:g} ms"
    what = f"event latency @ {rate:,} ev/s"
    return [
        Measure(row=1, what=what, unit="ms", ours=ours_ms, baseline_name=ASYNCIO,
                baseline=versus_asyncio, target=target, met=met),
        Measure(row=1, what=what, unit="ms", ours=ours_ms, baseline_name=WS_CLIENT,
                baseline=versus_ws),
    ]  # fmt: skip


def _cpu_measure(rate: int, by_client: dict[str, Received]) -> Measure:
    def per_event(name: str) -> Figures:
        got = by_client[name]
        count = len(got.latencies)
        return Figures(got.cpu_seconds / max(1, count) * 1e6, count=count)

    what = f"CPU per event @ {rate:,} ev/s"
    ours_cpu, baseline_cpu = per_event(OURS), per_event(ASYNCIO)
    return Measure(row=1, what=what, unit="us", ours=ours_cpu, baseline_name=ASYNCIO,
                   baseline=baseline_cpu)  # fmt: skip


# ----------------------------------------------------------------------------- the trigger


class Trigger:
    """Asks the server for one stamped stream from a helper thread, so the client's own
    thread is free to receive it; ``finish()`` checks exactly one connection took it."""

    def __init__(self, server: ServerProcess, stream: Stream) -> None:
        self._written: int | None = None
        self._count = stream[1]
        self._cpu_started = time.process_time()
        self._thread = threading.Thread(
            target=self._send, args=(server, *stream), name="bench-stamps", daemon=True
        )
        self._thread.start()

    def _send(self, server: ServerProcess, rate: int, count: int) -> None:
        self._written = server.send_stamped_deltas(rate, count)

    def finish(self, latencies: list[float]) -> Received:
        """Call once the client has every event: what it took, with the CPU time spent."""
        cpu_seconds = time.process_time() - self._cpu_started
        self._thread.join(SLACK)
        if self._written != self._count:
            raise RuntimeError(
                f"the server wrote {self._written} stamped deltas, not {self._count}: "
                "was another connection open?"
            )
        return Received(latencies, cpu_seconds)


def _deadline(stream: Stream) -> float:
    rate, count = stream
    return time.monotonic() + count / rate + SLACK


# ----------------------------------------------------------------------------- the clients


def ours(server: ServerProcess, streams: Sequence[Stream]) -> list[Received]:
    """``NavTalkClient(media=False)``; the stamp is read in a ``client.on`` callback."""
    current: list[float] = []
    enough = threading.Event()
    wanted = 0

    def on_delta(event: ResponseTranscriptDelta) -> None:
        current.append(stamp_latency(event.text))
        if len(current) == wanted:
            enough.set()

    results = []
    with nt.NavTalkClient(LICENSE, url=server.url, avatar_name=AVATAR, media=False) as client:
        client.on(ResponseTranscriptDelta, on_delta)
        client.connect(timeout=15)
        for stream in streams:
            current, wanted = [], stream[1]
            enough.clear()
            trigger = Trigger(server, stream)
            if not enough.wait(_deadline(stream) - time.monotonic()):
                raise TimeoutError(f"{OURS}: {len(current)} of {wanted} deltas arrived")
            results.append(trigger.finish(current))
    return results


def asyncio_baseline(server: ServerProcess, streams: Sequence[Stream]) -> list[Received]:
    """A bare asyncio ``websockets`` client: ``async for raw in ws: json.loads(raw)``."""
    return asyncio.run(_asyncio_session(server, streams))


async def _asyncio_session(server: ServerProcess, streams: Sequence[Stream]) -> list[Received]:
    results = []
    async with websockets.connect(_session_url(server)) as ws:
        async for raw in ws:
            if json.loads(raw)["type"] == SessionUpdated.TYPE:
                break
        for stream in streams:
            trigger = Trigger(server, stream)
            received: list[float] = []
            # wait_for, not asyncio.timeout: the bench runs on Python 3.10 too
            await asyncio.wait_for(
                _collect_stamps(ws, stream, received), _deadline(stream) - time.monotonic()
            )
            results.append(trigger.finish(received))
    return results


async def _collect_stamps(ws: Any, stream: Stream, received: list[float]) -> None:
    async for raw in ws:
        message = json.loads(raw)
        if _is_stamp(message):
            received.append(stamp_latency(message["data"]["content"]))
            if len(received) == stream[1]:
                return


def ws_baseline(server: ServerProcess, streams: Sequence[Stream]) -> list[Received]:
    """A bare websocket-client loop: ``ws.recv()`` then ``json.loads``, on one thread."""
    results = []
    ws = websocket.create_connection(_session_url(server), timeout=SLACK)
    try:
        while json.loads(ws.recv())["type"] != SessionUpdated.TYPE:
            pass
        for stream in streams:
            trigger = Trigger(server, stream)
            received: list[float] = []
            while len(received) < stream[1]:
                message = json.loads(ws.recv())
                if _is_stamp(message):
                    received.append(stamp_latency(message["data"]["content"]))
            results.append(trigger.finish(received))
    finally:
        ws.close()
    return results


def _session_url(server: ServerProcess) -> str:
    return f"{server.url}?license={LICENSE}&name={AVATAR}"


def _is_stamp(message: dict[str, object]) -> bool:
    data = message.get("data")
    return (
        message.get("type") == ResponseTranscriptDelta.TYPE
        and isinstance(data, dict)
        and data.get("id") == STAMP_RESPONSE_ID
    )

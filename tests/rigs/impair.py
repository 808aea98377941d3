"""Bad links in userspace (this kernel has no netem): relays for TCP and UDP on 127.0.0.1 that
delay, jitter, lose, reorder, cap the bandwidth of and blackhole what crosses them.

``Relay.tcp(target, link)`` / ``Relay.udp(target, link)`` listen on a free loopback port
(``port``) and forward to ``target``; ``link`` (a ``Link``) is read for every packet, so a test
changes it while traffic flows (``relay.link.blackhole = True``). One thread per relay
(``test-impair-*``) runs every socket with a selector and a schedule of what to deliver when.

- TCP: bytes are delayed (with jitter, never reordered: TCP is a stream), rate-capped per
  direction, held during a blackhole and delivered after it (as a link outage that TCP's
  retransmission rides out). Nothing is lost.
- UDP: each datagram is dropped with probability ``loss``, delayed by ``delay`` plus a uniform
  ``±jitter`` (so packets reorder when the jitter exceeds their spacing), rate-capped, and
  dropped during a blackhole. Each client address gets its own upstream socket, as a NAT does.

Both are bounded: at most ``MAX_QUEUED`` bytes wait per direction (UDP drops past it, TCP
stops reading, which backs the sender up). Counters: ``forwarded``, ``dropped`` (packets).
"""

from __future__ import annotations

import heapq
import itertools
import random
import selectors
import socket
import threading
import time
from typing import Any

import attrs

#: Bytes that may wait in one direction of one flow.
MAX_QUEUED = 4 * 1024 * 1024
#: TCP: past this many bytes waiting, the relay stops reading that side (as a receiver's window
#: closes), and its socket buffers are kept this small, so a capped link backs the sender up.
TCP_WINDOW = 32 * 1024


@attrs.define
class Link:
    """One direction's (or both's) impairment; read live."""

    delay: float = 0.0  # seconds one way
    jitter: float = 0.0  # seconds, uniform +- around delay
    loss: float = 0.0  # UDP only: probability a datagram is dropped
    rate_bps: float | None = None  # bits per second, None: unlimited
    blackhole: bool = False  # nothing crosses (UDP: dropped; TCP: held)


class _Flow:
    """One direction of one connection or NAT binding: a schedule of deliveries."""

    def __init__(self, sink: socket.socket, address: Any = None) -> None:
        self.sink = sink
        self.address = address  # UDP: where to send; TCP: None (connected)
        self.queued = 0
        self.free_at = 0.0  # when the capped link is free for the next packet
        self.last_due = 0.0  # TCP: deliveries stay in order
        self.held: list[bytes] = []  # TCP during a blackhole
        self.paused: tuple[socket.socket, Any] | None = None  # TCP: a source not read from


class Relay:
    """See the module's notes."""

    def __init__(self, kind: str, target: tuple[str, int], link: Link, seed: int = 1) -> None:
        self.kind = kind
        self.target = target
        self.link = link
        self.forwarded = 0
        self.dropped = 0
        self._random = random.Random(seed)
        self._selector = selectors.DefaultSelector()
        self._schedule: list[tuple[float, int, _Flow, bytes]] = []
        self._order = itertools.count()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        kind_socket = socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM
        self._listener = socket.socket(socket.AF_INET, kind_socket)
        self._listener.bind(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._sockets: list[socket.socket] = [self._listener]
        self._nat: dict[Any, tuple[socket.socket, _Flow, _Flow]] = {}
        if kind == "tcp":
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, TCP_WINDOW)
            self._listener.listen(64)
            self._listener.setblocking(False)
            self._selector.register(self._listener, selectors.EVENT_READ, self._accept)
        else:
            self._listener.setblocking(False)
            self._selector.register(self._listener, selectors.EVENT_READ, self._from_client)
        self._thread = threading.Thread(target=self._run, name=f"test-impair-{kind}-{self.port}")
        self._thread.start()

    @classmethod
    def tcp(cls, target: tuple[str, int], link: Link | None = None) -> Relay:
        return cls("tcp", target, link or Link())

    @classmethod
    def udp(cls, target: tuple[str, int], link: Link | None = None) -> Relay:
        return cls("udp", target, link or Link())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self._sockets:
            sock.close()
        self._selector.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = 0.05
            if self._schedule:
                wait = min(wait, max(0.0, self._schedule[0][0] - time.monotonic()))
            for key, _ in self._selector.select(wait):
                try:
                    key.data(key.fileobj)
                except OSError:
                    self._forget(key.fileobj)
            self._deliver_due()

    def _enqueue(self, flow: _Flow, data: bytes) -> None:
        link = self.link
        if self.kind == "udp" and (link.blackhole or self._random.random() < link.loss):
            self.dropped += 1
            return
        if flow.queued + len(data) > MAX_QUEUED:
            self.dropped += 1
            return
        now = time.monotonic()
        start = now
        if link.rate_bps:
            start = max(now, flow.free_at)
            flow.free_at = start + len(data) * 8 / link.rate_bps
        spread = self._random.uniform(-link.jitter, link.jitter) if link.jitter else 0.0
        due = start + link.delay + spread
        if self.kind == "tcp":
            due = max(due, flow.last_due)  # a stream is never reordered
            flow.last_due = due
        flow.queued += len(data)
        heapq.heappush(self._schedule, (due, next(self._order), flow, data))

    def _deliver_due(self) -> None:
        now = time.monotonic()
        while self._schedule and self._schedule[0][0] <= now:
            _, _, flow, data = heapq.heappop(self._schedule)
            if self.kind == "tcp" and (self.link.blackhole or flow.held):
                flow.held.append(data)
                if not self.link.blackhole:
                    self._release(flow)
                continue
            self._send(flow, data)
        for flow in {entry[2] for entry in self._schedule if entry[2].held}:
            if not self.link.blackhole:
                self._release(flow)

    def _release(self, flow: _Flow) -> None:
        held, flow.held = flow.held, []
        for data in held:
            self._send(flow, data)

    def _send(self, flow: _Flow, data: bytes) -> None:
        flow.queued -= len(data)
        if flow.paused is not None and flow.queued < TCP_WINDOW // 2:
            source, callback = flow.paused
            flow.paused = None
            self._selector.register(source, selectors.EVENT_READ, callback)
        try:
            if flow.address is not None:
                flow.sink.sendto(data, flow.address)
            elif not data:  # the other side closed its end: pass the close on, in order
                flow.sink.shutdown(socket.SHUT_WR)
            else:
                flow.sink.settimeout(5)  # a peer that stops reading stalls this relay only
                flow.sink.sendall(data)
                flow.sink.setblocking(False)
            self.forwarded += 1
        except OSError:
            self.dropped += 1

    # ------------------------------------------------------------------ TCP

    def _accept(self, listener: socket.socket) -> None:
        client, _ = listener.accept()
        upstream = socket.socket()
        upstream.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, TCP_WINDOW)
        upstream.settimeout(5)
        upstream.connect(self.target)
        for sock in (client, upstream):
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets.append(sock)
        to_upstream, to_client = _Flow(upstream), _Flow(client)
        self._selector.register(client, selectors.EVENT_READ, lambda s: self._pump(s, to_upstream))
        self._selector.register(upstream, selectors.EVENT_READ, lambda s: self._pump(s, to_client))

    def _pump(self, source: socket.socket, flow: _Flow) -> None:
        data = source.recv(65536)
        if not data:
            self._forget(source)
        self._enqueue(flow, data)  # b"": the close, delivered after what came before
        if data and flow.queued > TCP_WINDOW:  # the window closes: the sender backs up
            key = self._selector.unregister(source)
            flow.paused = (source, key.data)

    # ------------------------------------------------------------------ UDP

    def _from_client(self, listener: socket.socket) -> None:
        data, client = listener.recvfrom(65536)
        binding = self._nat.get(client)
        if binding is None:
            upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            upstream.bind(("127.0.0.1", 0))
            upstream.setblocking(False)
            self._sockets.append(upstream)
            to_upstream, to_client = _Flow(upstream, self.target), _Flow(listener, client)
            binding = self._nat[client] = (upstream, to_upstream, to_client)
            self._selector.register(
                upstream, selectors.EVENT_READ, lambda s: self._from_target(s, to_client)
            )
        self._enqueue(binding[1], data)

    def _from_target(self, upstream: socket.socket, flow: _Flow) -> None:
        data, _ = upstream.recvfrom(65536)
        self._enqueue(flow, data)

    def _forget(self, sock: Any) -> None:
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass

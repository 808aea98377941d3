"""The fault matrix: every fault the local server injects, in every phase, with reconnection
off and on, gives its documented outcome: no hang, no leaked thread or socket, and, where a
new session can cure it and reconnection is on, the conversation goes on with its history.

Outcomes:

* ``raises X``: ``connect()`` raises X (setup faults; ``connect()`` itself never retries);
* ``ended: X``: ``client.disconnected`` (not reconnecting), state ``closed``, ``client.error``
  is an X;
* ``goes on``: the same session answers the next question;
* ``reconnects``: a new session answers the next question, and it was told the user's earlier
  words (history replay), which ``client.history`` keeps too.

``python -m tests.client.test_fault_matrix`` prints the matrix as a Markdown table.
"""

from __future__ import annotations

from typing import Callable

import attrs
import numpy as np
import pytest

import navtalk_sync as nt
from navtalk_sync.server import LocalServer
from tests.helpers import client_for, client_sockets_to, wait_until

pytestmark = pytest.mark.timeout(60)

#: Quick enough for tests; an attempt that hangs gives up after 2 s.
POLICY = nt.ReconnectPolicy(first_delay=0.05, max_delay=0.2, max_attempts=4, attempt_timeout=2)
#: Said before each fault: a reconnected session must be told it again.
EARLIER = "my name is Ada"

Inject = Callable[[LocalServer, nt.NavTalkClient], None]


@attrs.frozen
class Cell:
    phase: str
    fault: str
    inject: Inject  # for the setup phases: sets faults before connect()
    without: str  # the outcome without reconnection
    with_reconnect: str  # the outcome with reconnect=POLICY ("n/a": not applicable)

    @property
    def id(self) -> str:
        return f"{self.phase}: {self.fault}"


# --------------------------------------------------------------------------- faults


def faults(**values: object) -> Inject:
    """Set server faults (for the first connection only: a reconnection is served)."""

    def inject(server: LocalServer, client: nt.NavTalkClient) -> None:
        for name, value in values.items():
            setattr(server.faults, name, value)
        server.faults.up_to_connection = len(server.connections) + 1

    return inject


def live(action: Callable[[LocalServer], object]) -> Inject:
    return lambda server, client: action(server)


def on_attempts(count: int, **values: object) -> Inject:
    """The next ``count`` connections (the reconnection attempts) get these faults; then the
    session is dropped."""

    def inject(server: LocalServer, client: nt.NavTalkClient) -> None:
        for name, value in values.items():
            setattr(server.faults, name, value)
        server.faults.up_to_connection = len(server.connections) + count
        server.drop_connections()

    return inject


def ask_into(drop_point: str) -> Inject:
    def inject(server: LocalServer, client: nt.NavTalkClient) -> None:
        faults(drop_at=drop_point)(server, client)
        server.faults.up_to_connection = len(server.connections)
        with pytest.raises(nt.Disconnected):
            client.ask("tell me a story", timeout=15)

    return inject


def audio_into_drop(server: LocalServer, client: nt.NavTalkClient) -> None:
    server.faults.drop_at, server.faults.drop_audio_after = "mid_audio", 3
    server.faults.up_to_connection = len(server.connections)
    tone = (np.sin(np.arange(24000) / 24000 * 2 * np.pi * 300) * 6000).astype(np.int16)
    client.send_audio(tone, 24000)
    wait_until(lambda: client.state != "session_ready", 10)


def slow_reader(server: LocalServer, client: nt.NavTalkClient) -> None:
    server.freeze_connections()
    noise = np.random.default_rng(7).integers(-3000, 3000, 24000 * 60, dtype=np.int16)
    try:
        client.send_audio(noise, 24000)  # a minute: far more than the socket buffers hold
    except nt.NavTalkError:
        pass  # the queue fills, or the session ends meanwhile


def duplicate_session_events(server: LocalServer, client: nt.NavTalkClient) -> None:
    for kind in ("realtime.session.created", "realtime.session.updated"):
        server.send_event({"type": kind, "data": {}})
    server.send_event({"type": "conversation.connected.success", "data": {"sessionId": "again"}})


def junk(server: LocalServer, client: nt.NavTalkClient) -> None:
    server.send_raw("{not json")
    server.send_raw(b"\x00\x01binary")
    server.send_event({"type": "realtime.something.new", "data": {"x": 1}})


CELLS: list[Cell] = [
    # -- the handshake
    Cell("handshake", "TCP dropped", faults(drop_at="handshake"),
         "raises TransportError", "raises TransportError"),
    Cell("handshake", "stalled (never answered)", faults(stall_handshake=True),
         "raises NavTalkTimeout", "raises NavTalkTimeout"),
    Cell("handshake", "refused HTTP 401", faults(reject_http=401),
         "raises ConnectionFailed", "raises ConnectionFailed"),
    Cell("handshake", "refused HTTP 503", faults(reject_http=503),
         "raises ConnectionFailed", "raises ConnectionFailed"),
    # -- the setup events
    Cell("setup", "TCP dropped after success", faults(drop_at="after_success"),
         "raises Disconnected", "raises Disconnected"),
    Cell("setup", "TCP dropped after created", faults(drop_at="after_created"),
         "raises Disconnected", "raises Disconnected"),
    Cell("setup", "stalled before session.updated", faults(stall_before_session_updated=True),
         "raises NavTalkTimeout", "raises NavTalkTimeout"),
    Cell("setup", "gpu_full notice", faults(setup_notice="gpu_full"),
         "raises GpuFull", "raises GpuFull"),
    Cell("setup", "fail notice, socket left open",
         faults(setup_notice="fail", close_after_notice=False),
         "raises ConnectionFailed", "raises ConnectionFailed"),
    Cell("setup", "events duplicated", faults(setup_sequence=(
         "success", "success", "offer", "created", "created", "updated", "updated")),
         "goes on", "goes on"),
    Cell("setup", "events out of order", faults(setup_sequence=(
         "created", "success", "updated", "offer")),
         "goes on", "goes on"),
    # -- a ready session, between turns
    Cell("ready", "TCP dropped", live(LocalServer.drop_connections),
         "ended: Disconnected", "reconnects"),
    Cell("ready", "closed 1001 going away",
         live(lambda s: s.close_connections(code=1001, reason="going away")),
         "ended: Disconnected", "reconnects"),
    Cell("ready", "closed 1000 normally", live(lambda s: s.close_connections(code=1000)),
         "ended: Disconnected", "ended: Disconnected"),
    Cell("ready", "server stops answering", live(LocalServer.freeze_connections),
         "ended: Disconnected", "reconnects"),
    Cell("ready", "slow reader, client sending", slow_reader,
         "ended: Disconnected", "reconnects"),
    Cell("ready", "gpu_full notice", live(lambda s: s.send_notice("gpu_full")),
         "ended: GpuFull", "reconnects"),
    Cell("ready", "backend_error notice", live(lambda s: s.send_notice("backend_error")),
         "ended: BackendError", "reconnects"),
    Cell("ready", "fail notice", live(lambda s: s.send_notice("fail")),
         "ended: ConnectionFailed", "ended: ConnectionFailed"),
    Cell("ready", "close notice", live(lambda s: s.send_notice("close")),
         "ended: ServerClosed", "ended: ServerClosed"),
    Cell("ready", "insufficient_balance notice",
         live(lambda s: s.send_notice("insufficient_balance")),
         "ended: InsufficientBalance", "ended: InsufficientBalance"),
    Cell("ready", "connection_limit_exceeded notice",
         live(lambda s: s.send_notice("connection_limit_exceeded")),
         "ended: ConnectionLimitExceeded", "ended: ConnectionLimitExceeded"),
    Cell("ready", "close notice, socket left open",
         live(lambda s: s.send_notice("close", close=False)),
         "ended: ServerClosed", "ended: ServerClosed"),
    Cell("ready", "close reason Insufficient points",
         live(lambda s: s.close_connections(code=1000, reason="Insufficient points")),
         "ended: InsufficientBalance", "ended: InsufficientBalance"),
    Cell("ready", "16 MiB frame", live(lambda s: s.send_large_frame(16 * 1024 * 1024)),
         "goes on", "goes on"),
    Cell("ready", "setup events again", duplicate_session_events, "goes on", "goes on"),
    Cell("ready", "malformed, binary, unknown frames", junk, "goes on", "goes on"),
    # -- mid-reply and mid-audio
    Cell("mid-reply", "TCP dropped", ask_into("mid_reply"), "ended: Disconnected", "reconnects"),
    Cell("mid-audio", "TCP dropped", audio_into_drop, "ended: Disconnected", "reconnects"),
    # -- the reconnection itself (attempts after a drop)
    Cell("reconnecting", "2 attempts get gpu_full", on_attempts(2, setup_notice="gpu_full"),
         "n/a", "reconnects"),
    Cell("reconnecting", "1 attempt's handshake stalls", on_attempts(1, stall_handshake=True),
         "n/a", "reconnects"),
    Cell("reconnecting", "1 attempt dropped after success",
         on_attempts(1, drop_at="after_success"), "n/a", "reconnects"),
    Cell("reconnecting", "1 attempt refused HTTP 503", on_attempts(1, reject_http=503),
         "n/a", "reconnects"),
    Cell("reconnecting", "attempts get fail", on_attempts(9, setup_notice="fail"),
         "n/a", "ended: ConnectionFailed"),
    Cell("reconnecting", "attempts refused HTTP 401", on_attempts(9, reject_http=401),
         "n/a", "ended: ConnectionFailed"),
    Cell("reconnecting", "every attempt gets backend_error",
         on_attempts(9, setup_notice="backend_error"), "n/a", "ended: ReconnectFailed"),
]  # fmt: skip


# --------------------------------------------------------------------------- checking


def error_class(outcome: str) -> type[nt.NavTalkError]:
    return getattr(nt, outcome.split()[-1])


def check(server: LocalServer, cell: Cell, reconnect: bool) -> None:
    expected = cell.with_reconnect if reconnect else cell.without
    client = client_for(
        server, media=False, reconnect=POLICY if reconnect else False,
        ping_interval=0.3, ping_timeout=0.6, send_queue_size=16,
    )  # fmt: skip
    with client:
        if cell.phase in ("handshake", "setup"):
            cell.inject(server, client)
            if expected.startswith("raises"):
                with pytest.raises(error_class(expected)):
                    client.connect(timeout=3)
                assert client.state in ("failed", "closed")
                return
            client.connect(timeout=10)
            assert client.ask(EARLIER, timeout=15)
        else:
            client.connect(timeout=10)
            assert client.ask(EARLIER, timeout=15)
            cell.inject(server, client)
        settle(server, client, expected)
    # no socket left open (threads are checked by conftest)
    wait_until(lambda: not client_sockets_to(server.port), 10)


def settle(server: LocalServer, client: nt.NavTalkClient, expected: str) -> None:
    if expected.startswith("ended"):
        wait_until(lambda: client.state == "closed", 20)
        assert isinstance(client.error, error_class(expected)), client.error
        return
    if expected == "reconnects":
        wait_until(
            lambda: client.stats()["reconnects"] == 1 and client.state == "session_ready", 20
        )
        latest = server.connections[-1].id
        told = server.messages("conversation.item.create", latest)
        assert EARLIER in str(told[0].message), "the new session was not told the earlier turns"
    assert client.ask("are you there?", timeout=15) == "You said: are you there?"
    assert client.state == "session_ready"
    said = [turn.text for turn in client.history if turn.role == "user"]
    assert said[0] == EARLIER and said[-1] == "are you there?"  # kept across sessions


RUNS = [
    pytest.param(cell, reconnect, id=f"{cell.id} (reconnect {'on' if reconnect else 'off'})")
    for cell in CELLS
    for reconnect in (False, True)
    if (cell.with_reconnect if reconnect else cell.without) != "n/a"
]


@pytest.mark.parametrize("cell, reconnect", RUNS)
def test_fault(server, cell, reconnect):
    check(server, cell, reconnect)


def markdown() -> str:
    lines = ["| phase | fault | reconnect off | reconnect on |", "| --- | --- | --- | --- |"]
    lines += [f"| {c.phase} | {c.fault} | {c.without} | {c.with_reconnect} |" for c in CELLS]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())

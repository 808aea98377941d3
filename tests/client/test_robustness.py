"""Back-pressure, slow callbacks, stalled peers: the client neither hangs nor loses events."""

from __future__ import annotations

import socket
import threading
import time

import pytest

import navtalk_sync as nt
from navtalk_sync import events as ev
from tests.helpers import client_for

pytestmark = pytest.mark.timeout(30)


def dispatcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "navtalk-dispatch"]


def test_wait_for_inside_a_callback_while_the_dispatch_queue_is_full(server):
    got: list[ev.Event] = []
    with client_for(server, event_queue_size=2) as client:

        @client.on(ev.ResponseTranscriptDelta)
        def first_delta(event):
            client.off(first_delta)
            # The queue behind this callback fills up; the reader must still reach waiters.
            got.append(client.wait_for("realtime.response.audio.done", timeout=10))

        client.connect(timeout=10)
        client.ask("one two three four five six seven eight", timeout=10)
    assert got and got[0].type == "realtime.response.audio.done"


def test_close_in_a_callback_while_the_reader_is_held_back(server):
    with client_for(server, event_queue_size=1) as client:
        closed = threading.Event()

        @client.on(ev.ResponseTranscriptDelta)
        def hang_up(event):
            client.off(hang_up)
            time.sleep(0.2)  # let the reader fill the queue and wait for room
            client.close()
            closed.set()

        client.connect(timeout=10)
        client.send_text("a reply with quite a few words in it, one after another")
        assert closed.wait(10)
    assert client.state == "closed"
    assert not dispatcher_threads(), "close() returned while the dispatcher still ran"
    assert not [t for t in threading.enumerate() if t.name.startswith("navtalk-ws-")]


def test_a_slow_callback_does_not_make_the_keepalive_give_up(server):
    with client_for(server, ping_interval=0.2, ping_timeout=0.5) as client:

        @client.on(ev.ResponseTranscriptDelta)
        def slow(event):
            client.off(slow)
            time.sleep(2.0)  # four ping timeouts with the reader held back

        client.connect(timeout=10)
        assert client.ask("take your time", timeout=15) == "You said: take your time."
        assert client.state in ("session_ready", "live") and client.error is None


def test_a_peer_that_stops_reading_is_found_dead_while_we_send(server):
    with client_for(server, ping_interval=0.2, ping_timeout=0.3, send_queue_size=4) as client:
        client.connect(timeout=10)
        with client.events("client.disconnected") as gone:
            server.freeze_connections()
            big = "x" * 1_000_000
            try:
                for _ in range(40):  # far more than the socket buffers hold
                    client.send_text(big, respond=False)
            except nt.NavTalkError:
                pass  # the session may end (or the queue fill) while we push
            event = gone.get(timeout=10)
    assert isinstance(event.error, nt.Disconnected)


def test_a_deeply_nested_frame_is_malformed_not_fatal(server):
    server.faults.frames_after_success = ["[" * 100_000]
    with client_for(server) as client:
        client.connect(timeout=10)
        assert client.ask("still here?", timeout=10) == "You said: still here?"
        assert client.stats()["malformed_frames"] == 1


def test_an_unreachable_url_is_a_transport_error_and_leaves_nothing_running():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = nt.NavTalkClient(
        "sk_navtalk_" + "q" * 32, avatar_name="a", url=f"ws://127.0.0.1:{port}"
    )
    with pytest.raises(nt.TransportError, match="cannot open"):
        client.connect(timeout=5)
    assert client.state == "failed"
    assert not dispatcher_threads()


def test_an_impossible_url_is_refused_when_the_client_is_made():
    with pytest.raises(nt.ConfigError, match="port"):
        nt.NavTalkClient("sk_navtalk_" + "q" * 32, avatar_name="a", url="ws://127.0.0.1:99999")


def test_ask_after_greet_first_returns_its_own_reply(server):
    with client_for(server, greet_first=True) as client:
        client.connect(timeout=10)
        assert client.ask("what is the weather like today", timeout=10) == (
            "You said: what is the weather like today."
        )


def test_concurrent_asks_each_get_their_own_reply(server):
    answers: dict[str, str] = {}
    with client_for(server) as client:
        client.connect(timeout=10)
        threads = [
            threading.Thread(target=lambda q=q: answers.__setitem__(q, client.ask(q, timeout=15)))
            for q in ("first question", "second question", "third question")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
    assert answers == {q: f"You said: {q}." for q in answers} and len(answers) == 3

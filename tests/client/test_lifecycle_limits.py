"""No call outlives its timeout, and nothing leaves the client half-closed.

close() keeps its budget whatever is stuck (a callback, tools, an image source), a close()
that was interrupted is finished by the next one, a connect() that fails for any reason leaves
a closed client, a tool's timeout counts from when the call arrived, and nothing can start a
thread once close() has begun. How long close() takes in each state is measured by
bench/close_latency.py.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import threading
import time

import numpy as np
import pytest

import navtalk_sync as nt
from navtalk_sync import events as ev
from navtalk_sync.server.app import THREAD_NAME as SERVER_THREADS
from tests.helpers import client_for, wait_until
from tests.rigs import alsa

pytestmark = pytest.mark.timeout(60)

CALL_DONE = "realtime.response.function_call_arguments.done"


def navtalk_threads() -> list[str]:
    """The client's threads (not the local server's)."""
    return sorted(
        t.name
        for t in threading.enumerate()
        if t.name.startswith("navtalk-") and not t.name.startswith(SERVER_THREADS)
    )


def blocked_callback(client: nt.NavTalkClient, release: threading.Event) -> None:
    """A reply-text callback that blocks until ``release``; returns once it is blocked."""
    entered = threading.Event()

    def block(event: ev.Event) -> None:
        entered.set()
        release.wait(30)

    client.on("realtime.response.audio_transcript.delta", block)
    client.send_text("hello there")
    assert entered.wait(10), "the callback was never called"


@contextlib.contextmanager
def ctrl_c_after(seconds: float):
    """A KeyboardInterrupt in the main thread after ``seconds``, as Ctrl-C would raise."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def silent_listener():
    """A TCP port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


# ------------------------------------------------------------------ close() keeps its budget


@pytest.mark.parametrize("budget", [0.3, 1.0])
def test_close_returns_within_its_timeout_while_a_callback_is_blocked(server, budget):
    release = threading.Event()
    client = client_for(server, media=False)
    client.connect(timeout=10)
    blocked_callback(client, release)
    started = time.monotonic()
    client.close(timeout=budget)
    took = time.monotonic() - started
    release.set()
    assert took < budget + 0.1, f"close({budget}) took {took:.3f} s"
    assert client.state == "closed"


def test_close_returns_within_its_timeout_while_tools_and_the_image_source_hang(server):
    release = threading.Event()
    with client_for(server, media=False) as client:

        @client.tool(timeout=60)
        def hang() -> str:
            """Never returns in time."""
            release.wait(30)
            return "late"

        client.connect(timeout=10)
        client.start_image_feed(lambda: release.wait(30) and None)
        for index in range(4):
            server.send_event({"type": CALL_DONE, "data": {"function_name": "hang",
                                                           "call_id": f"h{index}"}})  # fmt: skip
        time.sleep(0.5)  # the workers are in the tool, the feed in its source
        started = time.monotonic()
        client.close(timeout=1.0)
        took = time.monotonic() - started
        stuck = navtalk_threads()
        release.set()
    assert took < 1.1, f"close(1.0) took {took:.3f} s"
    # what close() could not stop is what is stuck in user code, and nothing else
    assert set(stuck) <= {"navtalk-image", *(f"navtalk-tool-{i}" for i in range(4))}, stuck


def test_a_timeout_above_the_limit_or_infinite_is_refused_before_anything_happens(server):
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        for bad in (float("inf"), 1e10, float("nan"), -1, 0, True, "1"):
            with pytest.raises(nt.InvalidArgument, match="timeout"):
                client.close(timeout=bad)
        assert client.state in ("session_ready", "live")
        assert client.ask("hello", timeout=10) == "Hello! Nice to meet you."
    assert client.state == "closed"


# ------------------------------------------------------------------ an interrupted close()


def test_a_close_interrupted_by_ctrl_c_is_finished_by_the_next_one(server):
    release = threading.Event()
    client = client_for(server, media=False)
    client.connect(timeout=10)
    blocked_callback(client, release)
    with pytest.raises(KeyboardInterrupt), ctrl_c_after(0.3):
        client.close(timeout=10)  # held up by the callback, then interrupted
    assert navtalk_threads(), "the first close() should have been cut short"
    release.set()
    client.close(timeout=5)
    assert navtalk_threads() == []
    assert client.state == "closed"
    wait_until(lambda: all(not c.open for c in server.connections), timeout=5)


# ------------------------------------------------------------------ a failed connect()


def test_a_connect_interrupted_by_ctrl_c_leaves_a_closed_client():
    with silent_listener() as url:
        client = nt.NavTalkClient("sk_test_x", avatar_name="a", url=url)
        with pytest.raises(KeyboardInterrupt), ctrl_c_after(0.3):
            client.connect(timeout=30)
        assert client.state in ("closed", "failed")
        assert navtalk_threads() == []
        with pytest.raises(nt.NotConnected):
            client.connect(timeout=1)


def test_waiting_for_the_picture_before_connect_says_so_at_once():
    client = nt.NavTalkClient("sk_test_x", avatar_name="a", url="ws://127.0.0.1:9")
    started = time.monotonic()
    with client, pytest.raises(nt.NotConnected, match="call connect\\(\\) first"):
        client.wait_for_video(timeout=30)
    assert time.monotonic() - started < 10  # not the 30 s timeout


@pytest.mark.parametrize(
    "setting",
    [
        {"ping_interval": 1e10},
        {"ping_timeout": 1e10},
        {"connect_timeout": float("inf")},
        {"close_timeout": 1e9},
        {"audio_hold_seconds": 1e10},
        {"tools": [{"name": "t", "parameters": {"default": object()}}]},
        {"tools": [{"name": "bad name!"}]},
        {"tools": [{"name": "t"}, {"name": "t"}]},
        {"media": "no"},
        {"greet_first": "yes"},
        {"half_duplex": 1},
        {"history": {"role": "user", "text": "hi"}},
        {"record": "a\0b.mp4"},
        {"url": "ws://[::1"},
        {"url": "ws://127.0.0.1:99999"},
    ],
    ids=lambda s: next(iter(s)),
)
def test_settings_that_would_fail_later_are_refused_at_construction(setting):
    with pytest.raises(nt.ConfigError):
        nt.NavTalkClient("sk_test_x", **{"avatar_name": "a", "url": "ws://127.0.0.1:1", **setting})


@pytest.mark.parametrize(
    "field", ["first_delay", "max_delay", "max_duration", "attempt_timeout", "factor"]
)
def test_reconnect_policies_that_would_overflow_are_refused(field):
    with pytest.raises(nt.ConfigError, match=field):
        nt.ReconnectPolicy(**{field: 1e10})


# ------------------------------------------------------------------ tool calls


def test_a_tool_call_is_answered_on_time_while_every_worker_hangs(server):
    release = threading.Event()
    failures: list[ev.ToolFailure] = []
    with client_for(server, media=False) as client:

        @client.tool(timeout=30)
        def hang() -> str:
            """Hangs."""
            release.wait(30)
            return "late"

        @client.tool(timeout=0.5)
        def quick() -> str:
            """Would be quick, if a worker were free."""
            return "quick"

        client.on(ev.ToolFailure, failures.append)
        client.connect(timeout=10)
        for index in range(4):
            server.send_event({"type": CALL_DONE, "data": {"function_name": "hang",
                                                           "call_id": f"h{index}"}})  # fmt: skip
        time.sleep(0.3)
        sent = time.monotonic()
        server.send_event({"type": CALL_DONE, "data": {"function_name": "quick",
                                                       "call_id": "q"}})  # fmt: skip
        wait_until(lambda: outputs(server).get("q") is not None, timeout=10)
        answered_after = time.monotonic() - sent
        release.set()
    assert json.loads(outputs(server)["q"])["status"] == "error"
    assert [f.kind for f in failures if f.call_id == "q"] == ["timeout"]
    assert answered_after < 3.0


def test_workers_stuck_past_their_timeout_are_replaced_and_bounded(server):
    release = threading.Event()
    with client_for(server, media=False) as client:

        @client.tool(timeout=0.3)
        def hang() -> str:
            """Hangs well past its timeout."""
            release.wait(30)
            return "late"

        @client.tool
        def quick() -> str:
            """Quick."""
            return "quick"

        client.connect(timeout=10)
        for index in range(12):  # three pools' worth of hung tools
            server.send_event({"type": CALL_DONE, "data": {"function_name": "hang",
                                                           "call_id": f"h{index}"}})  # fmt: skip
        wait_until(lambda: len(outputs(server)) == 12, timeout=15)  # all timed out
        tool_threads = [n for n in navtalk_threads() if n.startswith("navtalk-tool-")]
        release.set()
        server.send_event({"type": CALL_DONE, "data": {"function_name": "quick",
                                                       "call_id": "q"}})  # fmt: skip
        wait_until(lambda: outputs(server).get("q") == "quick", timeout=10)
    workers = [n for n in tool_threads if n != "navtalk-tool-timer"]
    assert len(workers) <= 8, workers  # four workers and at most four left behind


def outputs(server) -> dict[str, str]:
    items = [m.message["item"] for m in server.messages("conversation.item.create")]
    return {i["call_id"]: i["output"] for i in items if i["type"] == "function_call_output"}


# ------------------------------------------------------------------ nothing starts after close()


def test_nothing_can_start_work_on_a_closed_client(server, alsa_rig, tmp_path):
    client = client_for(server)
    client.connect(timeout=10)
    client.close()
    before = navtalk_threads()
    attempts = {
        "start_microphone": lambda: client.start_microphone(device=alsa.MIC),
        "start_image_feed": lambda: client.start_image_feed(lambda: None),
        "record": lambda: client.record(tmp_path / "x.mp4"),
        "after_reply": lambda: client.after_reply(lambda: None),
        "send_text": lambda: client.send_text("hi"),
        "send_audio": lambda: client.send_audio(np.zeros(2400, np.int16)),
        "send_image": lambda: client.send_image(np.zeros((8, 8, 3), np.uint8)),
        "ask": lambda: client.ask("hi", timeout=1),
        "connect": lambda: client.connect(timeout=1),
        "audio_stream": lambda: client.audio_stream().write(np.zeros(2400, np.int16)),
    }
    for name, attempt in attempts.items():
        with pytest.raises(nt.NotConnected):
            attempt()
        assert navtalk_threads() == before, name
    assert not (tmp_path / "x.mp4").exists()


def test_start_microphone_racing_close_never_leaves_capture_running(server, alsa_rig):
    alsa_rig.clear_mic(pad_seconds=30.0)

    def start(client: nt.NavTalkClient, started: threading.Event) -> None:
        started.set()
        with contextlib.suppress(nt.NavTalkError):
            client.start_microphone(device=alsa.MIC)

    for _ in range(10):
        client = client_for(server, media=False)
        client.connect(timeout=10)
        started = threading.Event()
        starter = threading.Thread(target=start, args=(client, started), name="test-starter")
        starter.start()
        started.wait(5)
        client.close(timeout=2)
        starter.join(10)
        assert not starter.is_alive()
        assert "navtalk-mic" not in navtalk_threads()

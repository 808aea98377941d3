"""A server that sends garbage, floods, or echoes secrets: the client holds.

Driven through ``LocalServer.send_event``/``send_raw``/``send_notice``/``close_connections``
and, where the local server cannot misbehave enough, a raw socket server of the test's own.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import tracemalloc

import pytest

import navtalk_sync as nt
from navtalk_sync import events as ev
from navtalk_sync.server import Faults
from tests.helpers import client_for, wait_until

pytestmark = pytest.mark.timeout(90)

ODD_LICENCE = "AcmeCorp-Key-7Q2W9E4R"  # not of the sk_navtalk_ shape


def echoes(licence: str) -> list[str]:
    """Every way a server could spell the licence back."""
    escaped = "".join(f"\\u{ord(ch):04x}" for ch in licence)  # JSON escapes
    return [licence, escaped, f"license={licence}"]


def assert_clean(text: str, licence: str) -> None:
    for line in text.splitlines():
        assert licence[4:-4] not in line, line  # not even most of it


def everything_said(client: nt.NavTalkClient, seen: list[ev.Event], *errors: BaseException) -> str:
    """Every text a user could see: events (fields, reprs, raw frames), exceptions (messages,
    attributes, the events they carry) and the client's own repr and error."""
    parts = [repr(client), repr(client.error), str(client.error)]
    for event in seen:
        parts += [repr(event), json.dumps(event.raw, default=repr), str(vars_of(event))]
    for error in errors:
        parts += [str(error), repr(error), str(vars(error)), repr(getattr(error, "event", None))]
    return "\n".join(parts)


def vars_of(event: ev.Event) -> dict:
    import attrs

    return {f.name: getattr(event, f.name) for f in attrs.fields(type(event))}


# ------------------------------------------------------------------ secrets echoed back


@pytest.mark.parametrize("licence", ["sk_navtalk_" + "Z" * 32, ODD_LICENCE])
@pytest.mark.parametrize("echo", [0, 1, 2], ids=["plain", "json-escaped", "query"])
def test_a_licence_echoed_in_a_setup_notice_reaches_no_exception_or_event(
    make_server, licence, echo, caplog
):
    text = echoes(licence)[echo]
    frame = '{"type": "conversation.connected.fail", "message": "bad key ' + text + '"}'
    server = make_server(license=licence, faults=Faults(frames_after_success=[frame]))
    seen: list[ev.Event] = []
    client = client_for(server, media=False)
    client.on("*", seen.append)
    with pytest.raises(nt.ConnectionFailed) as caught:
        client.connect(timeout=10)
    client.close()
    said = everything_said(client, seen, caught.value) + caplog.text
    assert_clean(said, licence)
    assert "bad key" in str(caught.value)


@pytest.mark.parametrize("licence", ["sk_navtalk_" + "Y" * 32, ODD_LICENCE])
def test_a_licence_echoed_mid_session_reaches_no_exception_event_or_reply(
    make_server, licence, caplog
):
    server = make_server(license=licence)
    seen: list[ev.Event] = []
    with client_for(server, media=False) as client:
        client.on("*", seen.append)
        client.connect(timeout=10)
        server.send_event({"type": "realtime.response.audio_transcript.delta",
                           "data": {"content": f"your key is {licence}"}})  # fmt: skip
        error = {"type": "realtime.response.error",
                 "data": {"message": f"rejected {licence}", "code": licence}}  # fmt: skip
        server.faults.frames_before_reply = [json.dumps(error)]
        with pytest.raises(nt.ResponseFailed) as failed:
            client.ask("anything", timeout=10)
        server.close_connections(code=4000, reason=f"bye {licence}")
        # The end as a script sees it: client.disconnected, published after the state moved
        wait_until(lambda: any(isinstance(e, ev.SessionEnded) for e in seen), timeout=10)
        with pytest.raises(nt.Disconnected) as lost:
            client.wait_for("*", timeout=1)
    said = everything_said(client, seen, failed.value, lost.value) + caplog.text
    assert_clean(said, licence)
    assert any(isinstance(e, ev.SessionEnded) and "bye" in (e.reason or "") for e in seen)


@pytest.mark.parametrize("licence", ["sk_navtalk_" + "X" * 32, ODD_LICENCE])
def test_a_licence_split_across_reply_pieces_is_hidden_in_the_reply_put_together(
    make_server, licence
):
    server = make_server(license=licence)
    half = len(licence) // 2
    reply = [
        {"type": "realtime.response.audio_transcript.delta",
         "data": {"content": f"key {licence[:half]}", "response_id": "r-split"}},
        {"type": "realtime.response.audio_transcript.delta",
         "data": {"content": f"{licence[half:]} ok", "response_id": "r-split"}},
        {"type": "realtime.response.audio.done", "data": {"response_id": "r-split"}},
    ]  # fmt: skip
    server.faults.frames_before_reply = [json.dumps(frame) for frame in reply]
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        text = client.ask("anything", timeout=10)
        wait_until(lambda: any(t.role == "assistant" for t in client.history.turns()), 10)
        replies = [t.text for t in client.history.turns() if t.role == "assistant"]
    assert text.startswith("key ") and text.endswith(" ok")
    for said in (text, *replies):
        assert_clean(said, licence)


def test_a_password_in_the_url_is_never_shown():
    url = "ws://alice:hunter2-very-secret@127.0.0.1:1"
    client = nt.NavTalkClient("sk_test_x", avatar_name="a", url=url)
    with pytest.raises(nt.TransportError) as caught:
        client.connect(timeout=5)
    for text in (str(caught.value), repr(caught.value), repr(client.settings), repr(client)):
        assert "hunter2" not in text, text
    assert caught.value.__context__ is None  # websocket-client's own error is not kept


# ------------------------------------------------------------------ things that could grow


def test_a_message_larger_than_the_limit_ends_the_session(make_server):
    server = make_server()
    client = client_for(server, media=False, max_message_size=1024 * 1024)
    client.connect(timeout=10)
    with client.events("client.disconnected") as ended:
        server.send_raw("x" * 10)  # fine
        sent = threading.Thread(target=lambda: _quietly(server.send_large_frame, 5_000_000))
        sent.start()
        event = ended.get(timeout=30)
        sent.join(30)
    client.close()
    assert "max_message_size" in str(event.error) and "5000000" in str(event.error)


def _quietly(fn, *args) -> None:
    with contextlib.suppress(Exception):
        fn(*args)


def test_a_stored_error_raised_again_and_again_does_not_grow(make_server):
    server = make_server()
    client = client_for(server, media=False)
    client.connect(timeout=10)
    server.close_connections(code=4000, reason="gone")
    wait_until(lambda: client.state == "closed", timeout=10)
    depths = []
    for _ in range(300):
        try:
            client.wait_for("*", timeout=1)
        except nt.Disconnected as exc:
            depths.append(_traceback_depth(exc))
    assert depths[-1] == depths[0] < 20
    errors = []
    for _ in range(3):
        try:
            client.wait_for("*", timeout=1)
        except nt.Disconnected as exc:
            errors.append(exc)
    assert errors[0] is not errors[1] and errors[0].__cause__ is client.error
    client.close()


def _traceback_depth(error: BaseException) -> int:
    depth, tb = 0, error.__traceback__
    while tb is not None:
        depth, tb = depth + 1, tb.tb_next
    return depth


def test_argument_fragments_past_the_bound_are_refused_not_kept(make_server):
    from navtalk_sync.tool_calls import MAX_ARGUMENT_CHARS

    piece = "x" * 10_000
    delta = json.dumps({"type": "realtime.response.function_call_arguments.delta",
                        "data": {"call_id": "c1", "delta": piece}})  # fmt: skip
    done = json.dumps({"type": "realtime.response.function_call_arguments.done",
                       "data": {"call_id": "c1", "function_name": "echo"}})  # fmt: skip
    count = MAX_ARGUMENT_CHARS // len(piece) + 2
    server = make_server(faults=Faults(frames_before_reply=[delta] * count + [done]))
    with client_for(server, media=False) as client:

        @client.tool
        def echo(text: str) -> str:
            """Echo."""
            return text

        client.connect(timeout=10)
        with client.events(ev.ToolFailure) as failures:
            client.send_text("hello")
            failure = failures.get(timeout=30)
    assert failure.kind == "bad_arguments" and "longer than" in failure.message


def test_the_reader_pause_warning_is_not_logged_for_every_pause(make_server, caplog):
    burst = json.dumps({"type": "realtime.response.audio_transcript.delta",
                        "data": {"content": "x"}})  # fmt: skip
    server = make_server(faults=Faults(frames_before_reply=[burst] * 2000))
    with client_for(server, media=False, event_queue_size=2) as client:
        client.on(ev.ResponseTranscriptDelta, lambda event: time.sleep(0.0005))
        client.connect(timeout=10)
        caplog.clear()
        client.send_text("hello")
        wait_until(lambda: client.stats()["events_delivered"] >= 2000, timeout=60)
        pauses = client.stats()["dispatch_reader_waits"]
    warnings = [r for r in caplog.records if "the reader pauses" in r.getMessage()]
    assert pauses > 10
    assert len(warnings) <= 3, len(warnings)


def test_malformed_frames_are_skipped_counted_and_logged_sparingly(make_server, caplog):
    garbage = ["{not json"] * 200 + ['{"type": "x", "n": ' + "9" * 5000 + "}"]
    server = make_server(faults=Faults(frames_before_reply=garbage))
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        assert client.ask("hello", timeout=10) == "Hello! Nice to meet you."
        assert client.stats()["malformed_frames"] == 200  # the long number is read as a float
    skipped = [r for r in caplog.records if "malformed frame" in r.getMessage()]
    assert 1 <= len(skipped) <= 2


def test_a_licence_at_the_cut_of_a_malformed_frame_preview_is_hidden(make_server, caplog):
    server = make_server(license=ODD_LICENCE)
    garbage = "{not json " + "x" * 50 + ODD_LICENCE + " and more"  # across the 80th character
    server.faults.frames_before_reply = [garbage]
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        client.ask("hello", timeout=10)
    skipped = [r.getMessage() for r in caplog.records if "malformed frame" in r.getMessage()]
    assert skipped
    assert_clean("\n".join(skipped), ODD_LICENCE)


def test_a_long_run_of_letters_in_a_frame_costs_linear_time(make_server):
    # a backslash makes the frame worth redacting; 4 MB of letters took the old URL pattern
    # hours (quadratic), so the reply behind it never came
    frame = '{"type": "x", "data": "\\n' + "A" * 4_000_000 + '"}'
    server = make_server(faults=Faults(frames_before_reply=[frame]))
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        assert client.ask("hello", timeout=60) == "Hello! Nice to meet you."


# ------------------------------------------------------------------ a raw socket server


@contextlib.contextmanager
def raw_server(handler):
    """A TCP server on loopback whose one connection ``handler(conn)`` serves."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    done = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                handler(conn, done)

    thread = threading.Thread(target=serve, name="test-raw-server", daemon=True)
    thread.start()
    try:
        yield f"ws://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        done.set()
        listener.close()
        thread.join(5)


def _handshake(conn: socket.socket) -> None:
    import base64
    import hashlib

    request = b""
    while b"\r\n\r\n" not in request:
        request += conn.recv(4096)
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key")
    )
    accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n"
    )


def test_a_frame_header_announcing_gigabytes_is_refused_at_once():
    def announce(conn: socket.socket, done: threading.Event) -> None:
        _handshake(conn)
        # a text frame announcing 1.5 GB, then a trickle: the client must not wait for it
        conn.sendall(bytes([0x81, 127]) + (1_500_000_000).to_bytes(8, "big") + b"{" * 1000)
        done.wait(10)

    with raw_server(announce) as url:
        client = nt.NavTalkClient("sk_test_x", avatar_name="a", url=url)
        tracemalloc.start()
        with pytest.raises(nt.NavTalkError) as caught:
            client.connect(timeout=10)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert "max_message_size" in str(caught.value)
    assert peak < 5_000_000, f"{peak} bytes were allocated for a refused message"
    assert client.state in ("closed", "failed")

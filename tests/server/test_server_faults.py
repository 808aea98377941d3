"""The local server's reliability faults (issue 7): drops at each point, stalled handshakes,
slow readers, odd setup sequences, faults limited to the first connections, very large frames.

Each fault is checked twice where it helps: with a raw socket or ``websocket-client`` to see
exactly what the server did, and with the library's client to see what a user gets.
Reconnection is tested in test_reconnect.py and test_fault_matrix.py.
"""

from __future__ import annotations

import base64
import json
import socket
import threading

import numpy as np
import pytest
import websocket

import navtalk_sync as nt
from navtalk_sync import events as ev
from navtalk_sync.server import Faults, LocalServer
from navtalk_sync.server.app import LARGE_FRAME_TYPE, MAX_FRAME_BYTES
from navtalk_sync.server.faults import DROP_POINTS, SETUP_STEPS
from tests.helpers import client_for, wait_until

pytestmark = pytest.mark.timeout(60)

SUCCESS = "conversation.connected.success"
OFFER = "webrtc.signaling.offer"
CREATED = "realtime.session.created"
UPDATED = "realtime.session.updated"
APPEND = "realtime.input_audio_buffer.append"


# --------------------------------------------------------------------------- helpers


def raw_url(server: LocalServer) -> str:
    return f"{server.url}?license={server.license}&name=navtalk.Leo"


def upgrade_request(server: LocalServer) -> bytes:
    """A valid WebSocket upgrade request for the endpoint, as bytes for a raw socket."""
    target = raw_url(server).split(f":{server.port}", 1)[1]
    return (
        f"GET {target} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it ends the connection (a reset counts as an end)."""
    received = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


def frames_until_gone(ws: websocket.WebSocket) -> tuple[list[str], bool]:
    """The types of the events received until the connection ends, and whether it ended
    with a close frame (False: the TCP connection was just dropped)."""
    seen: list[str] = []
    while True:
        try:
            opcode, frame = ws.recv_data_frame(True)
        except (websocket.WebSocketConnectionClosedException, ConnectionError):
            return seen, False
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return seen, True
        if opcode == websocket.ABNF.OPCODE_TEXT:
            seen.append(json.loads(frame.data)["type"])


def connect_in_background(
    client: nt.NavTalkClient,
) -> tuple[threading.Thread, list[BaseException]]:
    """A thread running ``client.connect(timeout=20)``; the list gets its error."""
    errors: list[BaseException] = []

    def connect() -> None:
        try:
            client.connect(timeout=20)
        except nt.NavTalkError as exc:
            errors.append(exc)

    connecting = threading.Thread(target=connect, name="test-connect")
    connecting.start()
    return connecting, errors


def session_ready_count(states: list[str]) -> int:
    return states.count("session_ready")


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "field, value",
    [
        ("drop_at", "somewhere"),
        ("drop_audio_after", 0),
        ("drop_audio_after", True),
        ("slow_reader_after", -1),
        ("setup_sequence", ()),
        ("setup_sequence", ("success", "ready")),
        ("setup_sequence", "success"),
        ("up_to_connection", -1),
        ("up_to_connection", 1.5),
    ],
)
def test_new_faults_are_validated(field, value):
    with pytest.raises(ValueError, match=field):
        Faults(**{field: value})
    faults = Faults()
    with pytest.raises(ValueError, match=field):
        setattr(faults, field, value)


def test_fault_defaults_and_helpers():
    faults = Faults()
    assert faults.drop_at is None and faults.drop_audio_after == 5
    assert not faults.stall_handshake and faults.slow_reader_after is None
    assert faults.setup_sequence is None and faults.up_to_connection is None
    assert faults.applies_to(1) and faults.applies_to(1000)
    assert faults.setup_steps() == ("success", "offer", "created", "updated")
    faults.offer_timing = "after_updated"
    assert faults.setup_steps() == ("success", "created", "updated", "offer")
    faults.setup_sequence = ["created", "success", "updated"]  # a list is kept as a tuple
    assert faults.setup_steps() == ("created", "success", "updated")
    faults.up_to_connection = 2
    assert [faults.applies_to(n) for n in (1, 2, 3)] == [True, True, False]
    assert set(DROP_POINTS) >= {"handshake", "mid_audio"} and "offer" in SETUP_STEPS


# --------------------------------------------------------------------------- the handshake


def test_drop_during_the_handshake_sends_no_http_response(make_server):
    server = make_server(faults=Faults(drop_at="handshake"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(upgrade_request(server))
        assert read_until_closed(sock) == b""
    info = server.wait_for_connection()
    assert (info.id, info.session_id, info.open) == (1, None, False)


def test_drop_during_the_handshake_is_a_transport_error(make_server):
    # websocket-client reads the end of the stream where the HTTP status line should be:
    # neither an HTTP refusal (ConnectionFailed) nor a timeout, so the client says it could
    # not open the connection.
    server = make_server(faults=Faults(drop_at="handshake"))
    client = client_for(server, media=False)
    with pytest.raises(nt.TransportError, match="cannot open"):
        client.connect(timeout=10)
    assert client.state == "failed"


def test_stalled_handshake_times_out_and_the_server_notices_the_client_leave(make_server):
    server = make_server(faults=Faults(stall_handshake=True))
    client = client_for(server, media=False)
    with pytest.raises(nt.NavTalkTimeout, match="handshake"):
        client.connect(timeout=2)
    assert client.state == "failed"
    assert server.wait_for_connection().session_id is None
    wait_until(lambda: not server.connections[0].open)  # the stall ended with the client


def test_stalled_handshake_is_never_answered_and_stop_ends_it(make_server):
    server = make_server(faults=Faults(stall_handshake=True))
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(upgrade_request(server))
        sock.settimeout(0.5)
        with pytest.raises(socket.timeout):
            sock.recv(1)  # no HTTP response
        assert server.wait_for_connection().open  # still waiting, held by the server
        sock.settimeout(10)
        server.stop(timeout=5)  # returns: the stalled handshake does not hold it
        assert read_until_closed(sock) == b""


def test_a_client_waiting_on_a_stalled_handshake_gets_an_error_when_the_server_stops(
    make_server,
):
    server = make_server(faults=Faults(stall_handshake=True))
    client = client_for(server, media=False)
    connecting, errors = connect_in_background(client)
    server.wait_for_connection()
    server.stop(timeout=5)
    connecting.join(15)
    assert not connecting.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], nt.TransportError)


def test_close_during_a_stalled_handshake_ends_connect(make_server):
    server = make_server(faults=Faults(stall_handshake=True))
    client = client_for(server, media=False)
    connecting, errors = connect_in_background(client)
    server.wait_for_connection()
    client.close(timeout=2)
    connecting.join(15)
    assert not connecting.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], nt.NotConnected)
    assert client.state == "closed"
    wait_until(lambda: not server.connections[0].open)


# --------------------------------------------------------------------------- during setup


@pytest.mark.parametrize(
    "drop_at, timing, expected",
    [
        ("after_success", "after_success", [SUCCESS, OFFER]),
        ("after_success", "after_created", [SUCCESS]),
        ("after_created", "after_success", [SUCCESS, OFFER, CREATED]),
        ("after_created", "after_created", [SUCCESS, CREATED, OFFER]),
        ("after_created", "after_updated", [SUCCESS, CREATED]),
    ],
)
def test_drop_between_setup_events(make_server, drop_at, timing, expected):
    server = make_server(faults=Faults(drop_at=drop_at, offer_timing=timing))
    ws = websocket.create_connection(raw_url(server), timeout=10)
    try:
        assert frames_until_gone(ws) == (expected, False)  # no close frame
    finally:
        ws.close()


@pytest.mark.parametrize("drop_at", ["after_success", "after_created"])
def test_drop_during_setup_fails_connect(make_server, drop_at):
    server = make_server(faults=Faults(drop_at=drop_at))
    client = client_for(server, media=False)
    with pytest.raises(nt.Disconnected, match="connection lost"):
        client.connect(timeout=10)
    assert client.state == "failed"


# --------------------------------------------------------------------------- mid-session


def test_drop_at_mid_reply(make_server):
    server = make_server(faults=Faults(drop_at="mid_reply"))
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        with client.events(ev.ResponseTranscriptDelta) as deltas:
            with pytest.raises(nt.Disconnected, match="connection lost"):
                client.ask("tell me something long", timeout=10)
            assert deltas.get(timeout=5).text  # the first delta came, then nothing
        assert client.state == "closed"


def test_drop_at_mid_audio(make_server):
    server = make_server(faults=Faults(drop_at="mid_audio", drop_audio_after=3))
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        with client.events("client.disconnected") as gone:
            client.send_audio(np.zeros(24000 * 2, np.int16), 24000)  # many chunks
            event = gone.get(timeout=10)
        assert isinstance(event.error, nt.Disconnected) and event.code is None
        assert client.state == "closed"
    # frames already in the server's buffers when it dropped are not handled
    assert len(server.messages(APPEND)) == 3


def test_mid_audio_counts_the_chunks_of_the_connection(make_server):
    server = make_server(faults=Faults(drop_at="mid_audio", drop_audio_after=2))
    chunk = json.dumps({"type": APPEND, "audio": base64.b64encode(bytes(4800)).decode()})
    ws = websocket.create_connection(raw_url(server), timeout=10)
    try:
        while json.loads(ws.recv())["type"] != UPDATED:
            pass
        ws.send(chunk)
        server.wait_for_message(APPEND)
        assert server.connections[0].open  # one chunk: still there
        ws.send(chunk)
        assert frames_until_gone(ws) == ([], False)  # the second: dropped, no close frame
    finally:
        ws.close()
    assert len(server.messages(APPEND)) == 2


def test_slow_reader_without_keepalive_makes_sends_time_out(make_server):
    # Builds on test_robustness's frozen peer (found dead by the keepalive): with no
    # keepalive, the client can only find out through its sends, which block and time out.
    server = make_server(faults=Faults(slow_reader_after=0.0))
    client = client_for(
        server, media=False, ping_interval=None, send_queue_size=2, send_timeout=0.5
    )
    with client:
        client.connect(timeout=10)
        big = "x" * 1_000_000
        with pytest.raises(nt.NavTalkTimeout, match="send queue"):
            for _ in range(200):  # far more than the socket buffers and the queue hold
                client.send_text(big, respond=False)
        assert client.state == "session_ready"  # nothing told the client the peer is stuck
        assert server.connections[0].open  # a slow reader, not a drop
        client.close(timeout=2)
        assert client.state == "closed" and client.error is None


def test_slow_reader_is_found_dead_by_the_keepalive(make_server):
    server = make_server(faults=Faults(slow_reader_after=0.3))
    with client_for(server, media=False, ping_interval=0.2, ping_timeout=0.5) as client:
        with client.events("client.disconnected") as gone:
            client.connect(timeout=10)
            event = gone.get(timeout=15)
    assert isinstance(event.error, nt.Disconnected) and event.code is None
    assert "no pong" in str(event.error)


# --------------------------------------------------------------------------- setup sequences

#: Duplicate and out-of-order setup events, each checked on the wire and with the client.
ODD_SEQUENCES = pytest.mark.parametrize(
    "sequence",
    [
        ("success", "created", "updated", "updated"),
        ("created", "success", "updated"),
        ("success", "updated", "created", "updated"),
        ("success", "success", "offer", "created", "updated"),
    ],
    ids=["updated-twice", "created-first", "updated-before-created", "success-twice"],
)


@ODD_SEQUENCES
def test_odd_setup_sequences_are_sent_as_asked(make_server, sequence):
    server = make_server(faults=Faults(setup_sequence=sequence))
    ws = websocket.create_connection(raw_url(server), timeout=10)
    try:
        names = {"success": SUCCESS, "offer": OFFER, "created": CREATED, "updated": UPDATED}
        received = [json.loads(ws.recv()) for _ in sequence]
        assert [f["type"] for f in received] == [names[step] for step in sequence]
        session_ids = {f["data"]["sessionId"] for f in received if f["type"] == SUCCESS}
        assert len(session_ids) == 1  # a repeated success is the same session
    finally:
        ws.close()


@ODD_SEQUENCES
def test_odd_setup_sequences_make_the_client_ready_once(make_server, sequence):
    server = make_server(faults=Faults(setup_sequence=sequence))
    states: list[str] = []
    with client_for(server, media=False) as client:
        client.on("client.state", lambda e: states.append(e.state))
        client.connect(timeout=10)
        assert client.ask("hello there", timeout=10) == "Hello! Nice to meet you."
        assert client.ask("and again", timeout=10) == "You said: and again."
        assert client.state == "session_ready" and client.error is None
    assert session_ready_count(states) == 1


def test_a_repeated_offer_is_ignored_and_the_media_goes_live(make_server):
    sequence = ("success", "offer", "offer", "created", "updated")
    server = make_server(faults=Faults(setup_sequence=sequence))
    states: list[str] = []
    with client_for(server) as client:
        client.on("client.state", lambda e: states.append(e.state))
        client.connect(timeout=10)
        client.wait_for_video(timeout=15)
        wait_until(lambda: client.state == "live", timeout=10)
        assert client.ask("hello", timeout=10) == "Hello! Nice to meet you."
    assert server.media_info(1).answered
    assert session_ready_count(states) == 1 and states.count("live") == 1


def test_a_sequence_without_updated_never_gets_ready(make_server):
    server = make_server(faults=Faults(setup_sequence=("success", "created")))
    client = client_for(server, media=False)
    with pytest.raises(nt.NavTalkTimeout, match="realtime.session.updated"):
        client.connect(timeout=1.5)


# --------------------------------------------------------------------------- first connections


@pytest.mark.parametrize(
    "faults, error",
    [
        (Faults(reject_http=503), nt.ConnectionFailed),
        (Faults(drop_at="handshake"), nt.TransportError),
        (Faults(stall_handshake=True), nt.NavTalkTimeout),
        (Faults(setup_notice="gpu_full"), nt.GpuFull),
        (Faults(setup_notice="backend_error", setup_notice_after_success=True), nt.BackendError),
        (Faults(drop_at="after_created"), nt.Disconnected),
    ],
    ids=["reject-http", "drop-handshake", "stall-handshake", "gpu-full", "backend-error", "drop"],
)
def test_up_to_connection_faults_the_first_and_serves_the_next(make_server, faults, error):
    faults.up_to_connection = 1
    server = make_server(faults=faults)
    with pytest.raises(error):
        client_for(server, media=False).connect(timeout=2)
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        assert client.ask("second try", timeout=10) == "You said: second try."
    first, second = server.wait_for_connection(count=1), server.wait_for_connection(count=2)
    assert (first.id, second.id) == (1, 2)
    assert first.session_id != second.session_id and second.session_id is not None


def test_up_to_connection_counts_refused_connections(make_server):
    server = make_server(faults=Faults(reject_http=401, up_to_connection=2))
    for _ in range(2):
        with pytest.raises(nt.ConnectionFailed) as refused:
            client_for(server, media=False).connect(timeout=5)
        assert refused.value.status_code == 401
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
    infos = server.connections
    assert [c.id for c in infos] == [1, 2, 3]
    assert [c.session_id is None for c in infos] == [True, True, False]
    assert all(c.license_ok and c.avatar_name == "navtalk.Leo" for c in infos)


def test_up_to_connection_limits_mid_session_faults(make_server):
    server = make_server(faults=Faults(drop_at="mid_reply", up_to_connection=1))
    with client_for(server, media=False) as first:
        first.connect(timeout=10)
        with pytest.raises(nt.Disconnected):
            first.ask("one", timeout=10)
    with client_for(server, media=False) as second:
        second.connect(timeout=10)
        assert second.ask("two", timeout=10) == "You said: two."


# --------------------------------------------------------------------------- large frames


def test_a_16_mib_frame_reaches_the_client_as_an_unknown_event(make_server):
    server = make_server()
    size = 16 * 1024 * 1024
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        with client.events(ev.UnknownEvent) as unknown:
            assert server.send_large_frame(size) == 1
            event = unknown.get(timeout=30)
        assert event.type == LARGE_FRAME_TYPE
        assert len(json.dumps(dict(event.raw), separators=(",", ":"))) == size
        assert client.ask("still with me?", timeout=10) == "You said: still with me?"
        assert client.stats()["malformed_frames"] == 0


def test_send_raw_and_send_event_take_16_mib_frames(make_server):
    server = make_server()
    padding = "y" * (16 * 1024 * 1024)
    ws = websocket.create_connection(raw_url(server), timeout=10)
    received: list[str] = []
    # The server's send returns once the client has read the frame: read on another thread.
    reader = threading.Thread(
        target=lambda: received.extend(ws.recv() for _ in range(2)), name="test-reader"
    )
    try:
        while json.loads(ws.recv())["type"] != UPDATED:
            pass
        ws.settimeout(30)
        reader.start()
        assert server.send_event({"type": "x.big", "data": {"padding": padding}}, timeout=30) == 1
        assert server.send_raw(padding, timeout=30) == 1
        reader.join(30)
    finally:
        ws.close()
    assert len(received) == 2
    assert len(json.loads(received[0])["data"]["padding"]) == len(padding)
    assert received[1] == padding


def test_send_large_frame_needs_room_for_the_event():
    with LocalServer() as server:
        with pytest.raises(ValueError, match="size_bytes"):
            server.send_large_frame(10)


def test_a_5_mb_image_from_the_client_is_accepted(make_server):
    server = make_server()
    image = b"\xff\xd8\xff" + bytes(5 * 1024 * 1024)  # a JPEG start and padding
    url = "data:image/jpeg;base64," + base64.b64encode(image).decode()
    ws = websocket.create_connection(raw_url(server), timeout=10)
    try:
        ws.send(json.dumps({"type": "realtime.input_image", "data": {"content": url}}))
        record = server.wait_for_message("realtime.input_image", timeout=10)
        assert record.valid and len(record.raw) > 5 * 1024 * 1024
        assert server.connections[0].open
    finally:
        ws.close()


def test_a_client_frame_over_the_limit_ends_the_connection_with_1009(make_server):
    server = make_server()
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        with client.events("client.disconnected") as gone:
            client.send_text("z" * (MAX_FRAME_BYTES + 1), respond=False)
            event = gone.get(timeout=20)
    assert event.code == 1009
    assert "exceeds limit of 16777216 bytes" in event.reason
    assert isinstance(event.error, nt.Disconnected)


def test_the_received_journal_is_bounded():
    """A server left running keeps the latest frames only, and counts the ones it let go."""
    from navtalk_sync.server.records import Journal

    journal = Journal(max_bytes=1000)
    for n in range(50):
        journal.add_message(1, "x" * 100, {"type": f"t{n}"}, True, None)
    kept = journal.messages()
    assert [m.type for m in kept] == [f"t{n}" for n in range(40, 50)]
    assert journal.messages_dropped == 40

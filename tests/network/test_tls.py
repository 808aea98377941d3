"""wss:// and https:// against the local server's TLS: trusting a private CA, refusing every
certificate that should be refused (and saying which check failed), and close() during a TLS
handshake that never ends."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time

import pytest
import trustme

import navtalk_sync as nt
from navtalk_sync.retry import ReconnectPolicy
from tests.helpers import client_for


@pytest.mark.timeout(60)
def test_a_session_over_wss_trusting_the_servers_ca(tls_server):
    assert tls_server.url.startswith("wss://") and tls_server.http_url.startswith("https://")
    with client_for(tls_server, ca_file=tls_server.ca_file) as client:
        client.connect(timeout=10)
        answer = client.ask("What can you do?", timeout=10)
        frame = client.wait_for_video(timeout=15)  # WebRTC needs nothing of TLS: it just works
    assert answer and frame.width > 0


def test_an_ssl_context_of_ones_own_is_used_as_given(tls_server):
    context = ssl.create_default_context(cafile=tls_server.ca_file)
    with client_for(tls_server, ssl_context=context, media=False) as client:
        client.connect(timeout=10)
        assert client.ask("What can you do?", timeout=10)


def test_the_system_store_does_not_trust_a_private_ca(tls_server):
    with client_for(tls_server, media=False) as client:
        with pytest.raises(nt.CertificateError) as caught:
            client.connect(timeout=10)
    error = caught.value
    assert error.check == "unable to get local issuer certificate"
    assert "TLS certificate" in str(error) and "ca_file=" in str(error)
    assert tls_server.license not in str(error) and "license" not in str(error)
    assert not ReconnectPolicy.retries(error)  # a new attempt would meet the same certificate


def _server_with(make_server, authority: trustme.CA, names, **issue):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(*names, **issue).configure_cert(context)
    return make_server(tls=context)


@pytest.mark.parametrize(
    ("names", "issue", "check"),
    [
        (
            ("localhost", "127.0.0.1"),
            {"not_after": datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)},
            "certificate has expired",
        ),
        (("navtalk.example",), {}, "IP address mismatch"),
    ],
    ids=["expired", "wrong-host"],
)
def test_an_expired_or_wrong_host_certificate_is_refused_by_name(
    make_server, tmp_path, names, issue, check
):
    authority = trustme.CA()
    server = _server_with(make_server, authority, names, **issue)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    with client_for(server, ca_file=str(ca_file), media=False) as client:
        with pytest.raises(nt.CertificateError, match="was refused") as caught:
            client.connect(timeout=10)
    assert caught.value.check.startswith(check)


def test_the_avatar_lookup_follows_the_same_trust(tls_server):
    info = nt.get_avatar(
        tls_server.license, name="navtalk.Leo", base_url=tls_server.http_url,
        ca_file=tls_server.ca_file,
    )  # fmt: skip
    assert info.name == "navtalk.Leo"
    with pytest.raises(nt.AvatarLookupFailed, match="unable to get local issuer certificate"):
        nt.get_avatar(tls_server.license, name="navtalk.Leo", base_url=tls_server.http_url)


@pytest.fixture
def silent_tls_port():
    """A port that accepts TCP and never answers the TLS ClientHello."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, name="test-silent-tls")
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    for sock in (*accepted, listener):
        sock.close()


@pytest.fixture
def backlogged_port():
    """A port whose accept queue is full and never drained: a TCP connect to it hangs in
    SYN_SENT on Linux, as one to an unreachable host does."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # what fits in a queue of 0 (Linux allows one more than the backlog)
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    yield port
    for sock in (*fillers, listener):
        sock.close()


def _connect_then_close(url: str, **settings) -> tuple[BaseException | None, float]:
    client = nt.NavTalkClient("sk_test_x", avatar_name="a", url=url, media=False, **settings)
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            client.connect(timeout=30)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=connect, name="test-connect")
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    client.close(timeout=2)
    thread.join(10)
    return (outcome[0] if outcome else None), time.monotonic() - started


@pytest.mark.timeout(30)
def test_close_interrupts_a_tls_handshake_that_never_ends(silent_tls_port):
    error, took = _connect_then_close(f"wss://127.0.0.1:{silent_tls_port}/")
    assert isinstance(error, nt.NotConnected), error
    assert took < 5  # not the 30 s connect timeout


@pytest.mark.timeout(30)
def test_a_tcp_connect_that_never_completes_times_out_as_a_timeout(backlogged_port):
    client = nt.NavTalkClient("sk_test_x", avatar_name="a", url=f"ws://127.0.0.1:{backlogged_port}/",
                              media=False)  # fmt: skip
    started = time.monotonic()
    with client, pytest.raises(nt.NavTalkTimeout, match="the TCP connection"):
        client.connect(timeout=1)
    assert time.monotonic() - started < 5


@pytest.fixture
def redirecting_port():
    """A port whose every WebSocket upgrade is answered by a redirect elsewhere."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: ws://127.0.0.1:9/\r\n"
                             b"Content-Length: 0\r\n\r\n")  # fmt: skip

    thread = threading.Thread(target=answer, name="test-redirect")
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join(5)
    listener.close()


def test_a_redirect_is_refused_not_followed_past_the_proxy_and_trust(redirecting_port):
    client = nt.NavTalkClient("sk_test_x", avatar_name="a",
                              url=f"ws://127.0.0.1:{redirecting_port}/", media=False)  # fmt: skip
    with client, pytest.raises(nt.ConnectionFailed, match="redirect .*not followed") as caught:
        client.connect(timeout=10)
    assert caught.value.status_code == 302
    assert not ReconnectPolicy.retries(caught.value)


@pytest.mark.timeout(30)
def test_close_interrupts_a_tcp_connect_that_never_completes(backlogged_port):
    probe = socket.socket()
    probe.settimeout(0.5)
    with pytest.raises(OSError):  # the rig works: a plain connect hangs
        probe.connect(("127.0.0.1", backlogged_port))
    probe.close()
    error, took = _connect_then_close(f"ws://127.0.0.1:{backlogged_port}/")
    assert isinstance(error, nt.NotConnected), error
    assert took < 5

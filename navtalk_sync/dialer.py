"""The socket a WebSocket runs on: TCP, an HTTP proxy's tunnel, TLS, each stoppable.

websocket-client would open the socket itself, inside a call nothing can interrupt, so a
``close()`` during a slow TCP connect or a TLS handshake that never ends had to wait out the
connect timeout. ``Dialer`` opens it instead and hands the finished socket over:

1. TCP to the server, or to the proxy (``proxies.proxy_for``): a non-blocking connect that
   waits on the socket and on a wake-up pipe, so ``abort()`` ends it at once;
2. through a proxy, ``CONNECT host:port`` and its answer (``ProxyError`` when refused);
3. for ``wss://``, the TLS handshake with the trust of ``tls.client_context`` (a refused
   certificate is a ``CertificateError``).

Steps 2 and 3 block on the socket; ``abort()`` shuts it down, which wakes them. Name lookup
(``getaddrinfo``) cannot be interrupted; it is bounded by the resolver's own timeout.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import ssl
import threading
from urllib.parse import urlsplit

import websocket

from .errors import NavTalkTimeout, NotConnected, ProxyError, TransportError
from .options import NetworkOptions
from .proxies import Proxy, connect_request, proxy_for, read_reply
from .redaction import redact
from .timeouts import Deadline
from .tls import certificate_error, client_context

__all__ = ["Dialer"]

_ABORTED = "the client was closed while connecting"
#: Bytes written but not yet sent that the socket keeps before a write blocks. Without a
#: limit a slow uplink lets the kernel buffer megabytes (on Linux it grows the buffer to
#: 4 MB): a minute of the user's audio, late by as much. With it the writer waits, the audio
#: queue fills and its policy applies (``audio_hold_seconds``, the microphone dropping its
#: oldest). It does not limit what is in flight, so a fast link is as fast.
UNSENT_LIMIT = 32 * 1024


class Dialer:
    """Opens one connection's socket (see the module's notes). ``abort()`` from any thread."""

    def __init__(self, network: NetworkOptions) -> None:
        self._network = network
        self._lock = threading.Lock()
        self._aborted = False
        self._socket: socket.socket | None = None
        self._wake: tuple[socket.socket, socket.socket] | None = None  # made by dial()
        self._proxy: Proxy | None = None  # the proxy this dial goes through
        self._timeout = 0.0

    def dial(self, url: str, timeout: float) -> socket.socket:
        """The connected socket for ``url`` (ws:// or wss://), within ``timeout`` seconds."""
        self._timeout = timeout
        deadline = Deadline(timeout)
        with self._lock:
            self._wake = socket.socketpair()
        parts = urlsplit(url)
        host = parts.hostname or ""
        secure = parts.scheme == "wss"
        port = parts.port or (443 if secure else 80)
        where = f"{host}:{port}"
        self._proxy = proxy_for(self._network.proxy, host, secure)
        try:
            if self._proxy is None:
                sock = self._connect(host, port, deadline)
            else:
                sock = self._connect(self._proxy.host, self._proxy.port, deadline)
                self._tunnel(sock, self._proxy, host, port, deadline)
            if secure:
                sock = self._handshake(sock, host, deadline, where)
            _limit_unsent(sock)
            sock.settimeout(self._left(deadline, f"the connection to {where}"))
        except BaseException:
            self._drop()
            raise
        return sock

    def abort(self) -> None:
        """Stop a dial under way (it raises ``NotConnected``), or the next one."""
        with self._lock:
            self._aborted = True
            sock = self._socket
            wake = self._wake
        if wake is not None:
            try:
                wake[1].send(b"x")
            except OSError:
                pass  # the dial is over: its pipe is closed
        if sock is not None:
            try:
                # the plain socket's shutdown: SSLSocket.shutdown() drops its TLS state first,
                # which would make a handshake under way fail with AttributeError
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # not connected yet: the wake-up pipe ends the wait

    def close(self) -> None:
        """Free the wake-up pipe (after the dial, whatever its outcome)."""
        with self._lock:
            wake, self._wake = self._wake, None
        for end in wake or ():
            end.close()

    # ------------------------------------------------------------------ the steps

    def _connect(self, host: str, port: int, deadline: Deadline) -> socket.socket:
        """TCP to ``host:port`` (the server's, or the proxy's), each address in turn."""
        try:
            addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise self._unreachable(f"cannot resolve {host!r}: {exc.strerror}") from None
        last = "no address"
        for index, (family, kind, protocol, _, address) in enumerate(addresses):
            sock = self._hold(socket.socket(family, kind, protocol))
            _set_options(sock)
            # each address gets its share of what is left: a silent IPv6 route must leave
            # time for IPv4
            share = Deadline(deadline.remaining(1 / (len(addresses) - index)))
            try:
                self._connect_one(sock, address, share)
                return sock
            except NavTalkTimeout:
                self._drop()
                if index == len(addresses) - 1:
                    raise
                last = "timed out"
            except OSError as exc:
                last = exc.strerror or str(exc)
                self._drop()
        raise self._unreachable(f"cannot connect to {host}:{port}: {last}")

    def _connect_one(self, sock: socket.socket, address: object, deadline: Deadline) -> None:
        sock.setblocking(False)
        code = sock.connect_ex(address)  # type: ignore[arg-type]
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            raise OSError(code, os.strerror(code))
        assert self._wake is not None
        with selectors.DefaultSelector() as selector:  # select() fails past fd 1023
            selector.register(self._wake[0], selectors.EVENT_READ)
            selector.register(sock, selectors.EVENT_WRITE)
            while code != 0:
                ready = selector.select(self._left(deadline, "the TCP connection"))
                self._check_aborted()
                if any(key.fileobj is sock for key, _ in ready):
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if code != 0:
                        raise OSError(code, os.strerror(code))
                    break
        sock.setblocking(True)

    def _tunnel(
        self, sock: socket.socket, proxy: Proxy, host: str, port: int, deadline: Deadline
    ) -> None:
        reply = b""
        try:
            sock.settimeout(self._left(deadline, f"the proxy {proxy.address}"))
            sock.sendall(connect_request(proxy, host, port))
            answer = None
            while answer is None:
                sock.settimeout(self._left(deadline, f"the proxy {proxy.address}"))
                chunk = sock.recv(4096)
                self._check_aborted()
                if not chunk:
                    raise ProxyError(
                        f"the proxy {proxy.address} closed the connection before it answered",
                        proxy.address,
                    )
                reply += chunk
                answer = read_reply(reply)
        except TimeoutError:
            self._check_aborted()
            raise NavTalkTimeout(f"the proxy {proxy.address}", self._timeout) from None
        except ValueError as exc:
            raise ProxyError(f"the proxy {proxy.address} answered: {exc}", proxy.address) from None
        except OSError as exc:
            self._check_aborted()
            raise ProxyError(f"the proxy {proxy.address} failed: {exc}", proxy.address) from None
        status, reason = answer
        if status != 200:
            hint = " (check the user:password in proxy=)" if status in (401, 407) else ""
            raise ProxyError(
                f"the proxy {proxy.address} refused the tunnel to {host}:{port}: HTTP {status} "
                f"{reason}{hint}",
                proxy.address,
                status,
            )

    def _handshake(
        self, sock: socket.socket, host: str, deadline: Deadline, where: str
    ) -> socket.socket:
        try:
            context = client_context(self._network)
        except (ssl.SSLError, OSError) as exc:  # a ca_file changed or gone since it was checked
            raise TransportError(f"cannot load the trusted CAs: {exc}") from None
        sock.settimeout(self._left(deadline, f"the TLS handshake with {where}"))
        # wrap_socket takes the descriptor over from ``sock``: hold the new socket before the
        # handshake, so that abort() shuts down the one the handshake waits on
        secure = context.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
        self._hold(secure)
        try:
            secure.do_handshake()
        except ssl.SSLCertVerificationError as exc:
            raise certificate_error(exc, where) from None
        except TimeoutError:
            self._check_aborted()
            raise NavTalkTimeout(f"the TLS handshake with {where}", self._timeout) from None
        except (ssl.SSLError, OSError) as exc:
            self._check_aborted()
            raise TransportError(redact(f"the TLS handshake with {where} failed: {exc}")) from None
        self._check_aborted()
        return secure

    # ------------------------------------------------------------------ helpers

    def _left(self, deadline: Deadline, what: str) -> float:
        """Seconds left for the next step; ``NavTalkTimeout`` naming ``what`` when none are."""
        remaining = deadline.remaining()
        if remaining <= 0:
            raise NavTalkTimeout(what, self._timeout)
        return remaining

    def _hold(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._socket = sock
            aborted = self._aborted
        if aborted:
            self._drop()
            raise NotConnected(_ABORTED)
        return sock

    def _drop(self) -> None:
        with self._lock:
            sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    def _check_aborted(self) -> None:
        if self._aborted:
            raise NotConnected(_ABORTED)

    def _unreachable(self, text: str) -> TransportError:
        """The error for a server, or a proxy, that cannot be reached."""
        self._check_aborted()
        if self._proxy is not None:
            return ProxyError(f"the proxy {self._proxy.address}: {text}", self._proxy.address)
        return TransportError(redact(text))


def _limit_unsent(sock: socket.socket) -> None:
    """``TCP_NOTSENT_LOWAT`` where the system has it (Linux, macOS): see ``UNSENT_LIMIT``."""
    option = getattr(socket, "TCP_NOTSENT_LOWAT", None)
    if option is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, option, UNSENT_LIMIT)
        except OSError:
            pass  # an old kernel: the kernel's own buffering applies


def _set_options(sock: socket.socket) -> None:
    """What websocket-client sets on the sockets it opens: no Nagle delay on small frames
    (audio pieces, commits), and TCP keepalive."""
    for level, option, value in websocket._socket.DEFAULT_SOCKET_OPTION:
        try:
            sock.setsockopt(level, option, value)
        except OSError:
            pass

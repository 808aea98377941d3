"""One WebSocket connection (websocket-client): handshake, reader thread, writer thread.

* ``open()`` runs the opening handshake in the caller's thread, with a timeout, on a socket
  the ``Dialer`` opened (TCP, a proxy's tunnel, TLS), so that ``close()`` can stop any step.
* ``navtalk-ws-reader`` receives frames, answers pings, hands each text frame to ``on_text``
  and reports the end of the connection once, through ``on_end``. It runs no user code.
* ``navtalk-ws-writer`` writes frames from a bounded queue, strictly in order, and sends a
  keepalive ping when nothing was written for ``ping_interval`` seconds. A connection that
  leaves a ping unanswered for ``ping_timeout`` seconds is aborted.
* ``close()`` flushes the queue, sends a close frame and waits briefly for the server's
  reply; past its deadline it aborts the socket (shutdown), which wakes both threads at once.
  websocket-client's own ``close()`` is not used: called beside a blocked reader it can wait
  out the ping timeout.

The URL holds the licence; only the redacted form is ever logged or put in an exception.
"""

from __future__ import annotations

import functools
import queue
import socket
import struct
import threading
import time
from typing import Callable

import websocket

from .config import redact
from .dialer import Dialer
from .errors import ConnectionFailed, NavTalkTimeout, NotConnected, TransportError
from .logs import get_logger
from .options import NetworkOptions
from .threads import LibraryThread
from .timeouts import Deadline

__all__ = ["Transport", "TransportStats"]

log = get_logger(__name__)

#: ``on_end(code, reason, error)``: close code and reason from the server's close frame,
#: or ``error`` (a short description) when the connection broke without one.
EndCallback = Callable[["int | None", "str | None", "str | None"], None]

_CLOSE = object()  # writer sentinel: send a close frame, then stop writing

#: Bytes the reader asks of the socket at least. websocket-client asks for exactly what it
#: needs next (2 header bytes, then the payload): two recv() calls a frame, each a poll() and
#: a recv() on a socket with a timeout. Asking for more lets a burst of small events come in
#: one call; its frame buffer keeps what is read ahead. Kept small: it copies what is left
#: after each frame.
READ_AHEAD = 4096


class TransportStats:
    """Counters of one connection. Each is written by one thread only."""

    def __init__(self) -> None:
        self.frames_sent = 0
        self.bytes_sent = 0
        self.frames_received = 0
        self.bytes_received = 0
        self.binary_frames_ignored = 0
        self.pings_sent = 0
        self.pongs_received = 0
        self.frames_unsent = 0  # still queued when the connection ended (set by close())
        #: the last keepalive ping's round trip (None before the first pong)
        self.websocket_rtt_ms: float | None = None

    def as_dict(self) -> dict[str, int | float | None]:
        return dict(vars(self))


class Transport:
    """A websocket-client connection with a reader and a writer thread."""

    def __init__(
        self,
        url: str,
        *,
        on_text: Callable[[str], None],
        on_end: EndCallback,
        send_queue_size: int,
        ping_interval: float | None,
        ping_timeout: float,
        max_message_size: int = 16 * 1024 * 1024,
        network: NetworkOptions | None = None,
    ) -> None:
        self._url = url
        self._dialer = Dialer(network or NetworkOptions())
        self.display_url = redact(url)
        self._on_text = on_text
        self._on_end = on_end
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._queue: queue.Queue[object] = queue.Queue(maxsize=send_queue_size)
        self._ws = websocket.WebSocket(enable_multithread=True, skip_utf8_validation=True)
        _read_ahead(self._ws)
        _limit_message_size(self._ws, max_message_size)
        self._lock = threading.Lock()
        self._closing = False
        self._ended = False
        self._close_sent = False
        self._abort_reason: str | None = None
        self._reader: threading.Thread | None = None
        self._writer: threading.Thread | None = None
        self._reader_done = threading.Event()
        self._written = threading.Condition()  # notified after each frame the writer wrote
        self._last_pong = 0.0
        self._ping_sent_at: float | None = None
        self._handing_off = False
        self._next_ping = time.monotonic() + (ping_interval or 0.0)
        self.stats = TransportStats()

    def __repr__(self) -> str:
        return f"<Transport {self.display_url}>"

    # ------------------------------------------------------------------ opening

    def open(self, timeout: float) -> None:
        """Run the opening handshake (blocking, at most ``timeout`` seconds)."""
        deadline = Deadline(timeout)
        try:
            sock = self._dialer.dial(self._url, timeout)
            unreachable = None
        except TransportError as exc:
            if type(exc) is not TransportError:
                raise  # a CertificateError or ProxyError says all it needs to
            unreachable = TransportError(f"cannot open {self.display_url}: {exc}")
        finally:
            self._dialer.close()
        if unreachable is not None:  # raised out here, with no context to carry along
            raise unreachable
        try:
            # redirect_limit=0: a redirect would be followed on a socket websocket-client
            # opens itself, past the proxy, the trust settings and close()
            self._ws.connect(
                self._url, socket=sock, timeout=max(deadline.remaining(), 0.001), redirect_limit=0
            )
            error = None
        except Exception as exc:
            sock.close()
            error = self._open_error(exc, timeout)
        if error is not None:  # raised out here: websocket-client's error (the server's
            self._ws.shutdown()  # answer, headers and all) must not ride along as context
            raise error
        if self._closing:  # close() came while the handshake finished
            self._ws.shutdown()
            raise NotConnected("the client was closed while connecting")
        # A peer that stops reading fills the send buffer and parks the writer in send(), where
        # no keepalive check can run; the socket timeout bounds such a stall. Reads that time
        # out are simply resumed (websocket-client keeps partial frames). close() does not wait
        # for it: a shutdown wakes both threads at once.
        self._ws.settimeout((self._ping_interval or 20.0) + self._ping_timeout)

    def _open_error(self, exc: Exception, timeout: float) -> Exception:
        if self._closing:
            return NotConnected("the client was closed while connecting")
        if isinstance(exc, websocket.WebSocketBadStatusException):
            status = f"HTTP {exc.status_code} {exc.status_message or ''}".strip()
            text = f"the server refused the WebSocket handshake ({status})"
            return ConnectionFailed(text, status_code=exc.status_code)
        response = getattr(self._ws, "handshake_response", None)
        redirect = getattr(response, "status", None)
        if isinstance(redirect, int) and 300 <= redirect < 400:
            text = f"the server answered the WebSocket handshake with a redirect (HTTP {redirect})"
            return ConnectionFailed(text + ", which is not followed", status_code=redirect)
        if isinstance(exc, (websocket.WebSocketTimeoutException, socket.timeout)):
            return NavTalkTimeout(f"the WebSocket handshake with {self.display_url}", timeout)
        detail = redact(f"{type(exc).__name__}: {exc}")
        return TransportError(f"cannot open {self.display_url}: {detail}")

    def start(self) -> None:
        """Start the reader and writer threads (after ``open()``)."""
        with self._lock:  # close() on another thread sees both started, or neither
            self._reader = LibraryThread(target=self._read_loop, name="navtalk-ws-reader")
            self._writer = LibraryThread(target=self._write_loop, name="navtalk-ws-writer")
            self._reader.start()
            self._writer.start()

    # ------------------------------------------------------------------ sending

    def send(self, text: str, timeout: float) -> None:
        """Queue one text frame. Waits up to ``timeout`` for room; never drops or reorders."""
        if self._closing or self._ended:
            raise NotConnected("the connection is closed")
        try:
            self._queue.put(text, timeout=timeout)
        except queue.Full:
            raise NavTalkTimeout(
                "room in the send queue", timeout, f"{self._queue.maxsize} frames waiting"
            ) from None

    @property
    def send_queue_depth(self) -> int:
        return self._queue.qsize()

    def wait_backlog(self, frames: int, timeout: float) -> bool:
        """Wait until at most ``frames`` frames wait to be written (or the connection ends);
        False when ``timeout`` ran out first. What is ahead of the socket is then small, so a
        slow link backs its sender up at once instead of filling this queue."""
        with self._written:
            return self._written.wait_for(
                lambda: self._queue.qsize() <= frames or self._closing or self._ended, timeout
            )

    def _write_loop(self) -> None:
        while True:
            wait = self._keepalive()
            if wait is False:
                return
            try:
                item = self._queue.get(timeout=wait)
            except queue.Empty:
                if self._ended:
                    return
                continue
            if item is _CLOSE:
                self._send_close_frame()
                return
            assert isinstance(item, str)
            if self._ended or not self._write(functools.partial(self._ws.send, item)):
                return
            self.stats.frames_sent += 1
            self.stats.bytes_sent += len(item)
            with self._written:
                self._written.notify_all()

    def _keepalive(self) -> float | bool | None:
        """Ping every ``ping_interval`` s (whatever else is written: a busy sender must not hide
        a dead peer); abort when a ping stays unanswered for ``ping_timeout`` s.

        Returns how long the writer may wait for the next frame (None: no limit), or False
        when the connection is dead.
        """
        if self._ping_interval is None:
            return None
        now = time.monotonic()
        if self._ping_sent_at is not None and self._last_pong >= self._ping_sent_at:
            self._ping_sent_at = None
        if self._ping_sent_at is not None and self._handing_off:
            self._ping_sent_at = now  # the pong may be waiting unread: restart its clock
        if self._ping_sent_at is not None and now - self._ping_sent_at > self._ping_timeout:
            log.warning("no pong within %.1f s: the connection is dead", self._ping_timeout)
            self.abort(f"no pong within {self._ping_timeout:g} s")
            return False
        if now >= self._next_ping:
            self._next_ping = now + self._ping_interval
            if self._ping_sent_at is None:  # one ping in flight at a time
                if not self._write(lambda: self._ws.ping(b"navtalk")):
                    return False
                self.stats.pings_sent += 1
                self._ping_sent_at = now
        deadline = self._next_ping
        if self._ping_sent_at is not None:
            deadline = min(deadline, self._ping_sent_at + self._ping_timeout + 0.001)
        return max(0.0, deadline - now)

    def _write(self, action: Callable[[], object]) -> bool:
        try:
            action()
            return True
        except (websocket.WebSocketException, OSError) as exc:
            if not (self._closing or self._ended):
                log.warning("write failed: %s", redact(str(exc)) or type(exc).__name__)
            self.abort()
            return False
        except Exception as exc:  # a bug, not the network: say so loudly, end the connection
            log.exception("the writer failed")
            self.abort(redact(f"writer failed: {type(exc).__name__}: {exc}"))
            return False

    def _send_close_frame(self) -> None:
        with self._lock:
            if self._close_sent:
                return
            self._close_sent = True
        self._write(lambda: self._ws.send_close(websocket.STATUS_NORMAL, b""))

    # ------------------------------------------------------------------ receiving

    def _read_loop(self) -> None:
        code: int | None = None
        reason: str | None = None
        error: str | None = None
        try:
            code, reason = self._receive_until_close()
        except MessageTooLarge as exc:
            error = str(exc)
            log.warning("%s: the connection is ended", exc)
        except (websocket.WebSocketException, OSError, ValueError) as exc:
            error = self._abort_reason or redact(f"{type(exc).__name__}: {exc}".rstrip(": "))
        except Exception as exc:  # a bug, not the network: say so loudly, end cleanly
            log.exception("the reader failed")
            error = redact(f"reader failed: {type(exc).__name__}: {exc}")
        finally:
            self._reader_done.set()
            self._end(code, reason, error)

    def _receive_until_close(self) -> tuple[int | None, str | None]:
        ws = self._ws
        while True:
            try:
                frame = ws.recv_frame()
            except websocket.WebSocketTimeoutException:
                continue  # a quiet connection; the keepalive decides whether it is dead
            if frame.opcode in (websocket.ABNF.OPCODE_TEXT, websocket.ABNF.OPCODE_BINARY,
                                websocket.ABNF.OPCODE_CONT):  # fmt: skip
                ws.cont_frame.validate(frame)
                ws.cont_frame.add(frame)
                if ws.cont_frame.is_fire(frame):
                    opcode, whole = ws.cont_frame.extract(frame)
                    self._on_data(opcode, whole.data)
            elif frame.opcode == websocket.ABNF.OPCODE_PING:
                ws.pong(frame.data)
            elif frame.opcode == websocket.ABNF.OPCODE_PONG:
                self._last_pong = time.monotonic()
                self.stats.pongs_received += 1
                sent = self._ping_sent_at
                if sent is not None and self._last_pong >= sent:
                    self.stats.websocket_rtt_ms = round((self._last_pong - sent) * 1000, 1)
            elif frame.opcode == websocket.ABNF.OPCODE_CLOSE:
                code, reason = _close_payload(frame.data)
                self._closing = True
                self._send_close_frame()  # answer the server's close (RFC 6455 5.5.1)
                return code, reason

    def _on_data(self, opcode: int, data: bytes) -> None:
        self.stats.frames_received += 1
        self.stats.bytes_received += len(data)
        if opcode == websocket.ABNF.OPCODE_BINARY:
            self.stats.binary_frames_ignored += 1
            log.debug("ignored a binary frame of %d bytes", len(data))
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            log.warning("skipped a text frame that is not valid UTF-8 (%d bytes)", len(data))
            return
        # While the consumer holds the reader back, pongs cannot be read: the keepalive must
        # not take that for a dead peer.
        self._handing_off = True
        try:
            self._on_text(text)
        finally:
            self._handing_off = False

    def _end(self, code: int | None, reason: str | None, error: str | None) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
        self.abort()  # the connection is over: make any pending write fail fast
        try:
            self._queue.put_nowait(_CLOSE)  # wake an idle writer so it can finish
        except queue.Full:
            pass  # a busy writer finds the socket shut and stops by itself
        self._on_end(code, reason, error)

    # ------------------------------------------------------------------ closing

    def request_close(self) -> None:
        """Begin a graceful close without waiting (safe on the reader thread)."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        try:
            self._queue.put_nowait(_CLOSE)
        except queue.Full:
            self.abort()

    def close(self, deadline: Deadline) -> None:
        """Close gracefully before ``deadline``, else abort. Joins both threads; called again,
        it joins what the first call left running."""
        self.request_close()
        with self._lock:
            started = self._reader is not None
        if not started:  # open() may be running: just wake it
            self._dialer.abort()
            self.abort()
            return
        # Give the close handshake most of the time, keep the rest for joining.
        if not self._reader_done.wait(deadline.remaining(0.7)):
            self.abort()
        for thread in (self._writer, self._reader):
            if thread is not None and thread is not threading.current_thread():
                thread.join(deadline.remaining())
        self._ws.shutdown()
        self._count_unsent()

    def _count_unsent(self) -> None:
        """Frames the socket never took: counted, so a lost connection loses nothing silently."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, str):
                self.stats.frames_unsent += 1

    def abort(self, reason: str | None = None) -> None:
        """Shut the socket down now (any thread): blocked reads and writes return at once."""
        if reason and self._abort_reason is None:
            self._abort_reason = reason
        sock = self._ws.sock
        if sock is not None:
            try:
                # the plain socket's shutdown: SSLSocket.shutdown() drops its TLS state first,
                # and a writer in send() then would write plaintext onto the connection
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass
        with self._written:
            self._written.notify_all()  # a wait_backlog() returns: the connection is ending


class MessageTooLarge(Exception):
    """The server announced a message longer than the client takes (nothing of it was read)."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(
            f"the server sent a message of {size} bytes, more than max_message_size ({limit})"
        )


def _limit_message_size(ws: websocket.WebSocket, limit: int) -> None:
    """Refuse a frame whose header announces more than ``limit`` bytes (counting the earlier
    fragments of its message) before any of its payload is read, so a hostile or broken server
    cannot make the client buffer a gigabyte."""
    buffer = ws.frame_buffer
    recv_length = buffer.recv_length

    def checked() -> None:
        recv_length()
        pending = ws.cont_frame.cont_data
        size = (buffer.length or 0) + (len(pending[1]) if pending else 0)
        if size > limit:
            raise MessageTooLarge(size, limit)

    buffer.recv_length = checked  # type: ignore[method-assign]


def _read_ahead(ws: websocket.WebSocket) -> None:
    """Make ``ws`` read at least ``READ_AHEAD`` bytes a call (its frame buffer keeps the rest:
    ``frame_buffer.recv_strict`` takes a longer read than it asked for)."""
    recv = ws.frame_buffer.recv
    ws.frame_buffer.recv = lambda size: recv(max(size, READ_AHEAD))


def _close_payload(data: bytes) -> tuple[int | None, str | None]:
    if len(data) < 2:
        return None, None
    code = struct.unpack("!H", data[:2])[0]
    return code, redact(data[2:].decode("utf-8", errors="replace"))

"""``LocalServer``: the NavTalk-compatible server on loopback, driven from synchronous code.

One background thread (``navtalk-local-server``) runs one asyncio loop with a ``websockets``
server and every session's aiortc peer connection. It is the client's own portal to a loop
(``rtc.loop.LoopThread``), so both sides start, drive and stop theirs the same way. Every
public method is synchronous and thread-safe: it runs a coroutine on the loop and waits for it
with a timeout. What the server saw is kept in a thread-safe ``Journal``; faults live in
a mutable ``Faults`` read at the moment each one matters.

aiortc encodes video and audio with ``run_in_executor``; the loop's default executor is a small
pool of ``navtalk-local-server-worker`` threads, shut down with the loop.

The offline voice loop is optional (the ``voice`` extra): with ``espeakng-loader`` the avatar
speaks with eSpeak NG (else a wordless ``ToneVoice``), with ``pocketsphinx`` it understands
speech (else each utterance is answered with a ``realtime.response.error`` saying what to
install). Either way one log line at construction says what is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import logging
import numbers
import secrets
import ssl
import string
import threading
import weakref
from http import HTTPStatus
from typing import Any, Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from ..errors import NavTalkError, NavTalkTimeout, NotConnected
from ..logs import get_logger
from ..redaction import remember_secret
from ..rtc.loop import LoopThread
from ..timeouts import Deadline
from . import ear, espeak, frames
from .avatar_api import API_PATH, AvatarApi
from .avatars import DEFAULT_AVATARS, Avatar
from .brain import Brain, RuleBrain
from .certificates import ThrowawayAuthority
from .faults import NOTICE_KINDS, Faults
from .latency import Latency, latency_named
from .offload import Offloader
from .records import ConnectionInfo, Journal, MediaInfo, ReceivedMessage
from .redact import RedactingLogger
from .server_session import ServerContext, ServerSession, refused_connection
from .stamps import check_stream, stream_stamped_deltas
from .tool_rule import ARGUMENT_FORMS
from .voice import ToneVoice, Voice

__all__ = ["LocalServer", "ENDPOINT_PATH", "THREAD_NAME", "generate_license"]

log = get_logger(__name__)

#: The one path that upgrades (protocol.md#url).
ENDPOINT_PATH = "/wss/v2/realtime-chat"
#: The server's event-loop thread.
THREAD_NAME = "navtalk-local-server"
#: How long a close handshake may take before the TCP connection is aborted (loopback).
CLOSE_TIMEOUT = 1.0
#: Largest accepted client frame; images and audio bursts stay far below it. A larger one ends
#: the connection: websockets closes it with 1009 (message too big).
MAX_FRAME_BYTES = 16 * 1024 * 1024
#: No time limit on the opening handshake, so ``faults.stall_handshake`` holds a client until
#: it goes away; ``stop()`` ends stalled handshakes itself.
OPEN_TIMEOUT = None
#: The type of ``send_large_frame()``'s event: one no client knows.
LARGE_FRAME_TYPE = "navtalk.test.large_frame"
#: Threads of the loop's default executor (aiortc's encoders run there).
WORKER_THREADS = 4
#: ICE states ``wait_for_ice`` accepts for each target (aiortc goes straight to "completed").
_ICE_REACHED = {"completed": ("completed",), "connected": ("connected", "completed")}
_ICE_ENDED = ("failed", "closed")

_ALPHANUMERIC = string.ascii_letters + string.digits


def generate_license() -> str:
    """A random key shaped like a real one: ``sk_navtalk_`` + 32 alphanumerics."""
    return "sk_navtalk_" + "".join(secrets.choice(_ALPHANUMERIC) for _ in range(32))


def _ice_server(entry: str | Mapping[str, Any]) -> dict[str, Any]:
    """One ICE server (protocol.md#ice-servers): a URL string becomes ``{"urls": [url]}``; a
    mapping keeps its ``urls`` as given, a string or a list."""
    if isinstance(entry, str):
        entry = {"urls": [entry]}
    if not isinstance(entry, Mapping):
        raise TypeError(f"an ICE server is a URL string or a mapping with 'urls', not {entry!r}")
    urls = entry.get("urls", entry.get("url"))
    urls = [urls] if isinstance(urls, str) else urls
    if (
        not isinstance(urls, (list, tuple))
        or not urls
        or not all(isinstance(u, str) and u for u in urls)
    ):
        raise ValueError("an ICE server needs 'urls': a URL string or a list of them")
    # a mapping's own form is kept (a string or a list), as the service may send either
    out: dict[str, Any] = {"urls": entry["urls"] if "urls" in entry else list(urls)}
    for key in ("username", "credential"):
        if entry.get(key) is not None:
            out[key] = str(entry[key])
    return out


def _non_negative(name: str, value: float) -> float:
    if value < 0:
        raise ValueError(f"{name} must be 0 or more seconds, got {value!r}")
    return float(value)


def _video_size(value: object) -> tuple[int, int]:
    """(width, height): even (for YUV 4:2:0) and between 16 and 4096 pixels."""
    ok = (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
        and all(16 <= v <= 4096 and v % 2 == 0 for v in value)
    )
    if not ok:
        raise ValueError(
            f"video_size must be (width, height), even numbers from 16 to 4096, got {value!r}"
        )
    return int(value[0]), int(value[1])  # type: ignore[index]


def _fps(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 60:
        raise ValueError(f"fps must be a number from 1 to 60, got {value!r}")
    return float(value)


def _loopback_addresses(host: str) -> tuple[str, ...] | None:
    """The address host candidates are limited to when the server listens on loopback."""
    if host == "localhost":
        return ("127.0.0.1",)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return (str(address),) if address.is_loopback else None


def _default_voice() -> Voice:
    """eSpeak NG when its package is installed, else the wordless tone voice."""
    if espeak.available():
        return espeak.EspeakVoice()
    log.info("the avatar hums instead of speaking: eSpeak NG needs `%s`", espeak.INSTALL_HINT)
    return ToneVoice()


def _default_recognizer() -> ear.Recognizer | None:
    """pocketsphinx when its package is installed, else None (no speech recognition)."""
    if ear.available():
        return ear.PocketsphinxEar()
    log.info("speech will not be understood: pocketsphinx needs `%s`", ear.INSTALL_HINT)
    return None


def _tls(tls: bool | ssl.SSLContext) -> tuple[ThrowawayAuthority | None, ssl.SSLContext | None]:
    """(the throwaway CA, if one is made; the context to serve with, None for plain ws://)."""
    if isinstance(tls, ssl.SSLContext):
        return None, tls
    if tls is True:
        authority = ThrowawayAuthority()
        return authority, authority.server_context()
    if tls is False:
        return None, None
    raise ValueError(f"tls must be True, False or an ssl.SSLContext, got {tls!r}")


class LocalServer:
    """A NavTalk-compatible WebSocket server on loopback (see protocol.md#local-server).

    Use it as a context manager, or call ``start()`` / ``stop()``. ``url`` is the full
    endpoint to connect to (add ``?license=...&name=...``).

    Frame sizes: a client frame larger than ``MAX_FRAME_BYTES`` (16 MiB) ends its connection
    (websockets closes it with 1009, "message too big"); anything smaller is read, e.g. a 5 MB
    image data URL. Frames the server sends have no size limit (see ``send_large_frame``).

    ``voice`` (text -> (int16 samples, rate)) speaks the replies, ``recognizer`` ((int16
    samples, rate) -> text) hears the user, ``brain`` answers; by default eSpeak NG,
    pocketsphinx and ``RuleBrain`` (tone voice and no recognition without the ``voice`` extra).

    A tool call's ``data.arguments`` is an object (``tool_arguments="object"``, the hosted
    service's shape) or a JSON string (``"string"``, OpenAI's); ``audio_done_after_tool_call``
    ends a reply that calls a tool with an ``audio.done`` too (protocol.md#tool-calls).

    ``tls=True`` serves ``wss://`` and the avatar API over ``https://`` on the same port, with
    a certificate for localhost, 127.0.0.1 and ::1 signed by a CA made at start (its PEM:
    ``ca_file``); an ``ssl.SSLContext`` serves with that context instead.

    ``latency`` is how long it takes: "fast" (the default) or "realistic", a hosted GPU
    avatar's setup, thinking and streaming times, or a ``Latency`` (see server/latency.py).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        license: str | None = None,
        avatars: Iterable[Avatar] | None = None,
        brain: Brain | None = None,
        faults: Faults | None = None,
        ice_servers: Sequence[str | Mapping[str, Any]] = (),
        history_quiet: float = 0.05,
        history_window: float = 0.5,
        delta_interval: float = 0.0,
        accept_any_license: bool = False,
        video_size: tuple[int, int] = (512, 512),
        fps: float = 25,
        voice: Voice | None = None,
        audio_deltas: bool = False,
        recognizer: ear.Recognizer | None = None,
        tool_arguments: str = "object",
        audio_done_after_tool_call: bool = False,
        latency: str | Latency = "fast",
        tls: bool | ssl.SSLContext = False,
    ) -> None:
        if license is not None and (not isinstance(license, str) or not license):
            raise ValueError("license must be a non-empty string, or None to generate one")
        if voice is not None and not callable(voice):
            raise ValueError("voice must be a callable: text -> (int16 samples, sample_rate)")
        if tool_arguments not in ARGUMENT_FORMS:
            raise ValueError(
                f"tool_arguments must be one of {ARGUMENT_FORMS}, got {tool_arguments!r}"
            )
        if recognizer is not None and not callable(recognizer):
            raise ValueError("recognizer must be a callable: (int16 samples, sample_rate) -> text")
        self._host = host
        self._requested_port = port
        self._made_recognizer: ear.PocketsphinxEar | None = None  # closed by stop()
        self._authority, self._tls = _tls(tls)
        self._faults = faults if faults is not None else Faults()
        self._context = ServerContext(
            license=license if license is not None else generate_license(),
            accept_any_license=bool(accept_any_license),
            avatars=tuple(avatars) if avatars is not None else DEFAULT_AVATARS,
            brain=brain if brain is not None else RuleBrain(),
            faults=self._faults,
            ice_servers=tuple(_ice_server(s) for s in ice_servers),
            history_quiet=_non_negative("history_quiet", history_quiet),
            history_window=_non_negative("history_window", history_window),
            delta_interval=_non_negative("delta_interval", delta_interval),
            journal=Journal(),
            offloader=Offloader(f"{THREAD_NAME}-brain"),
            voice=voice if voice is not None else _default_voice(),
            voice_offloader=Offloader(f"{THREAD_NAME}-voice"),
            recognizer=recognizer if recognizer is not None else self._own_recognizer(),
            ear_offloader=Offloader(f"{THREAD_NAME}-ear"),
            video_size=_video_size(video_size),
            fps=_fps(fps),
            audio_deltas=bool(audio_deltas),
            tool_arguments=tool_arguments,
            audio_done_after_tool_call=bool(audio_done_after_tool_call),
            latency=latency_named(latency),
            host_addresses=_loopback_addresses(host),
        )
        remember_secret(self._context.license, self)  # kept out of every log line, ours too
        if not self._context.avatars or not all(
            isinstance(a, Avatar) for a in self._context.avatars
        ):
            raise ValueError("avatars must be a non-empty iterable of Avatar")
        if not callable(self._context.brain):
            raise TypeError("brain must be a callable taking a BrainRequest")
        self._avatar_api = AvatarApi(  # protocol.md#avatar-api, on the WebSocket's host and port
            self._context.avatars,
            self._context.license,
            self._context.accept_any_license,
            self._faults,
            self._context.video_size,
        )
        self._lifecycle = threading.Lock()
        # the client's own asyncio portal: the server's loop is driven the same way
        self._loop = LoopThread(THREAD_NAME, workers=WORKER_THREADS)
        self._server: Server | None = None
        self._stop_event: asyncio.Event | None = None  # set on the loop when stopping
        self._port: int | None = None
        self._stopped = threading.Event()
        self._sessions: dict[int, ServerSession] = {}  # touched on the loop thread only
        self._ids = itertools.count(1)
        # The id each upgrade request got when it was read, until its handler takes it.
        self._upgrade_ids: weakref.WeakKeyDictionary[ServerConnection, int] = (
            weakref.WeakKeyDictionary()
        )

    def _own_recognizer(self) -> ear.Recognizer | None:
        recognizer = _default_recognizer()
        if isinstance(recognizer, ear.PocketsphinxEar):
            self._made_recognizer = recognizer  # a recognizer given to us is not ours to close
        return recognizer

    # ----------------------------------------------------------------- properties

    @property
    def license(self) -> str:
        """The key clients must send (never logged, never in ``repr``)."""
        return self._context.license

    @property
    def faults(self) -> Faults:
        """The live fault switches; change them at any time."""
        return self._faults

    @property
    def port(self) -> int:
        """The bound TCP port (known once started, or when a fixed port was asked for)."""
        if self._port is not None:
            return self._port
        if self._requested_port:
            return self._requested_port
        raise RuntimeError("the LocalServer is not started yet, so its port is not known")

    @property
    def url(self) -> str:
        """``ws://<host>:<port>/wss/v2/realtime-chat`` (``wss://`` with ``tls``): the full
        endpoint."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{'wss' if self._tls else 'ws'}://{host}:{self.port}{ENDPOINT_PATH}"

    @property
    def http_url(self) -> str:
        """``http://<host>:<port>/api/open/v1`` (``https://`` with ``tls``): the avatar lookup
        API's base (protocol.md#avatar-api)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}{API_PATH}"

    @property
    def ca_file(self) -> str | None:
        """With ``tls=True``: the PEM file of the throwaway CA that signed the server's
        certificate (pass it to a client as ``ca_file=``); else None."""
        return self._authority.ca_file if self._authority is not None else None

    @property
    def received(self) -> list[ReceivedMessage]:
        """Every frame received so far (valid or not), in arrival order: the latest 32 MB of
        them (``MAX_JOURNAL_BYTES``), so a server left running stays bounded; older frames are
        dropped and counted in ``received_dropped``."""
        return self._context.journal.messages()

    @property
    def received_dropped(self) -> int:
        """Received frames no longer kept (see ``received``)."""
        return self._context.journal.messages_dropped

    @property
    def connections(self) -> list[ConnectionInfo]:
        """Every connection so far, open or closed, in arrival order."""
        return self._context.journal.connections()

    def messages(
        self, type: str | None = None, connection_id: int | None = None
    ) -> list[ReceivedMessage]:
        """The received frames of one type and/or one connection."""
        return self._context.journal.messages(type, connection_id)

    def wait_for_message(
        self,
        type: str,
        timeout: float = 5.0,
        predicate: Callable[[ReceivedMessage], bool] | None = None,
    ) -> ReceivedMessage:
        """The first frame of ``type`` (received already or later) that ``predicate`` accepts."""
        return self._context.journal.wait_for_message(type, timeout, predicate)

    def wait_for_connection(self, timeout: float = 5.0, count: int = 1) -> ConnectionInfo:
        """The ``count``-th connection, once it has arrived."""
        return self._context.journal.wait_for_connection(timeout, count)

    def received_audio(self, connection_id: int | None = None) -> bytes:
        """The PCM16 (24 kHz mono, little-endian) one connection sent with
        ``input_audio_buffer.append``, concatenated in arrival order (the latest connection's
        when None). Kept after the connection ends; bounded to its last 10 minutes (older audio
        is dropped). Raises KeyError when there is no such connection.
        """
        return self._context.journal.uplink(connection_id).received()

    def media_info(self, connection_id: int | None = None) -> MediaInfo:
        """One connection's WebRTC media (the latest connection's when None).

        Live counters while the connection is open, the final ones after. Raises KeyError when
        there is no such connection.
        """
        recorded = self._context.journal.media(connection_id)

        async def live() -> MediaInfo | None:
            session = self._sessions.get(recorded.connection_id)
            return session.media_info() if session is not None else None

        current = None
        if self._loop.running and not self._stopped.is_set():
            with contextlib.suppress(RuntimeError):  # the server stopped meanwhile
                current = self._call(live(), 5.0)
        if current is None:  # closed: the journal has the final counters
            current = self._context.journal.media(recorded.connection_id)
        return current

    def wait_for_ice(
        self, state: str = "completed", timeout: float = 10.0, connection_id: int | None = None
    ) -> MediaInfo:
        """Block until the server's ICE reaches ``state`` ("completed", or "connected", which
        "completed" also satisfies) for a connection (the latest when None).

        Raises TimeoutError when it does not in time, ConnectionError when ICE fails or closes.
        """
        if state not in _ICE_REACHED:
            raise ValueError(f"state must be one of {', '.join(_ICE_REACHED)}, not {state!r}")
        wanted = _ICE_REACHED[state]
        info = self._context.journal.wait_for_media(
            lambda m: m.ice_state in wanted or m.ice_state in _ICE_ENDED, timeout, connection_id
        )
        if info.ice_state not in wanted:
            raise ConnectionError(f"ICE is {info.ice_state!r}; it did not reach {state!r}")
        return self.media_info(info.connection_id)

    # ----------------------------------------------------------------- lifecycle

    def start(self, timeout: float = 5.0) -> LocalServer:
        """Bind and start serving; returns once the port is listening."""
        with self._lifecycle:
            if self._stopped.is_set():
                raise RuntimeError("a stopped LocalServer cannot be started again")
            if self._server is not None:
                return self
            deadline = Deadline(timeout)
            try:
                self._loop.start(deadline.remaining())
                self._server = self._loop.run(
                    self._serve(), deadline.remaining(), "the local server to listen"
                )
            except BaseException:
                self._loop.stop(timeout)
                self._stopped.set()
                raise
            self._port = self._server.sockets[0].getsockname()[1]
        log.debug("local server listening on %s", self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Close every connection, stop the loop and join its thread. Idempotent."""
        with self._lifecycle:
            if self._stopped.is_set():
                return
            self._stopped.set()
            try:
                if self._server is not None:
                    self._stop_loop(self._server, Deadline(timeout))
            finally:  # started or not, stopped cleanly or not
                if self._authority is not None:
                    self._authority.close()  # the throwaway CA's folder
                if self._made_recognizer is not None:
                    self._made_recognizer.close()  # the pocketsphinx worker process
        if not self._context.offloader.join(timeout):
            log.debug("a brain call is still running after stop(); its thread will end alone")
        if not self._context.voice_offloader.join(timeout):
            log.debug("a voice call is still running after stop(); its thread will end alone")
        if not self._context.ear_offloader.join(timeout):
            log.debug("a recognition is still running after stop(); its thread will end alone")
        log.debug("local server stopped")

    def _stop_loop(self, server: Server, deadline: Deadline) -> None:
        with contextlib.suppress(NavTalkError):  # the loop may have ended already
            self._loop.run(self._shutdown(server), deadline.remaining(), "closing connections")
        if not self._loop.stop(deadline.remaining()):
            raise TimeoutError(f"the {THREAD_NAME} thread did not end in time")

    def serve_forever(self) -> None:
        """Start if needed and block until KeyboardInterrupt or ``stop()``; then stop."""
        self.start()
        try:
            while not self._stopped.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        if self._stopped.is_set():
            state = "stopped"
        elif self._port is not None:
            state = f"url={self.url}"
        else:
            state = "not started"
        return f"<LocalServer {state} license=sk_***>"

    # ----------------------------------------------------------------- live actions

    def send_notice(
        self,
        kind: str,
        message: str | None = None,
        close: bool = True,
        connection_id: int | None = None,
        timeout: float = 5.0,
    ) -> int:
        """``conversation.connected.<kind>`` (then a normal close); returns how many got it."""
        if kind not in NOTICE_KINDS:
            raise ValueError(f"kind must be one of {', '.join(NOTICE_KINDS)}, not {kind!r}")

        async def act(session: ServerSession) -> None:
            await session.send_notice(kind, message, close=False)
            if close:
                session.start_close(1000, "")

        return self._act(act, connection_id, timeout)

    def send_event(
        self, event: Mapping[str, Any], connection_id: int | None = None, timeout: float = 5.0
    ) -> int:
        """Any JSON frame."""
        if not isinstance(event, Mapping):
            raise TypeError("event must be a mapping (it is sent as one JSON object)")
        return self._act(lambda s: s.send_event(event), connection_id, timeout)

    def send_raw(
        self, raw: str | bytes, connection_id: int | None = None, timeout: float = 5.0
    ) -> int:
        """A raw text frame (``str``, e.g. malformed JSON) or binary frame (``bytes``)."""
        if not isinstance(raw, (str, bytes)):
            raise TypeError("raw must be str (text frame) or bytes (binary frame)")
        return self._act(lambda s: s.send_raw(raw), connection_id, timeout)

    def send_large_frame(
        self, size_bytes: int, connection_id: int | None = None, timeout: float = 30.0
    ) -> int:
        """A valid JSON text frame of exactly ``size_bytes`` bytes: an event of a type no
        client knows (``LARGE_FRAME_TYPE``) whose ``data.padding`` is a run of ``x``. Returns
        how many connections got it (each send waits until the client has taken it in)."""
        frame = _padded_frame(size_bytes)
        return self._act(lambda s: s.send_raw(frame), connection_id, timeout)

    def send_stamped_deltas(
        self,
        rate: float,
        count: int,
        connection_id: int | None = None,
        timeout: float | None = None,
    ) -> int:
        """``count`` reply-text deltas to each connection at ``rate`` a second, each one's text
        the server's ``time.monotonic_ns()`` as it is written (``stamps.stamp_latency`` reads
        it): for measuring event latency. Blocks until all are written; returns how many."""
        check_stream(rate, count)
        targets = self._targets(connection_id)
        sends = [session.send_raw for session in targets]
        budget = timeout if timeout is not None else count / rate + 10.0
        return int(self._call(stream_stamped_deltas(sends, rate, count), budget))

    def close_connections(
        self,
        code: int = 1000,
        reason: str = "",
        connection_id: int | None = None,
        timeout: float = 5.0,
    ) -> int:
        """Send a close frame (e.g. reason ``Insufficient points``); does not wait for the reply."""

        async def act(session: ServerSession) -> None:
            session.start_close(code, reason)

        return self._act(act, connection_id, timeout)

    def drop_connections(self, connection_id: int | None = None, timeout: float = 5.0) -> int:
        """Abort the TCP connections: no close frame (the client sees code 1006)."""

        async def act(session: ServerSession) -> None:
            session.drop()

        return self._act(act, connection_id, timeout)

    def freeze_connections(self, connection_id: int | None = None, timeout: float = 5.0) -> int:
        """Make the connections go silent: the server stops reading them, so it answers
        nothing (no pong, no close reply) while the TCP connection stays up."""

        async def act(session: ServerSession) -> None:
            session.freeze()

        return self._act(act, connection_id, timeout)

    def ping(self, connection_id: int | None = None, timeout: float = 5.0) -> float:
        """Ping one connection (the latest open one when None) and wait for the client's pong;
        returns the round trip in seconds. Raises TimeoutError when no pong comes in time."""
        targets = self._targets(connection_id)
        if not targets:
            raise KeyError("no connection is open")
        session = targets[-1]
        return float(self._call(asyncio.wait_for(session.ping(), timeout), timeout + 1.0))

    def stop_media(self, connection_id: int | None = None, timeout: float = 5.0) -> int:
        """Make the avatar's face and voice stop for good (no more RTP) while ICE and the socket
        stay up: the "media stops mid-session" fault. Returns how many connections it hit."""

        async def act(session: ServerSession) -> None:
            session.stop_media()

        return self._act(act, connection_id, timeout)

    def _act(
        self,
        action: Callable[[ServerSession], Awaitable[None]],
        connection_id: int | None,
        timeout: float,
    ) -> int:
        """Run ``action`` on the loop for each open target session; how many were acted on."""

        async def run() -> int:
            targets = self._targets(connection_id)
            for session in targets:
                with contextlib.suppress(ConnectionClosed):  # it closed meanwhile
                    await action(session)
            return len(targets)

        return int(self._call(run(), timeout))

    def _targets(self, connection_id: int | None) -> list[ServerSession]:
        open_sessions = [s for s in self._sessions.values() if s.is_open]
        if connection_id is None:
            return open_sessions
        chosen = [s for s in open_sessions if s.id == connection_id]
        if not chosen:
            raise KeyError(f"connection {connection_id} is not open")
        return chosen

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float) -> Any:
        if self._stopped.is_set() or not self._loop.running:
            coro.close()
            raise RuntimeError("the LocalServer is not running")
        try:
            return self._loop.run(coro, timeout, "a server action")
        except NavTalkTimeout:
            raise TimeoutError(f"the server did not finish the action within {timeout} s") from None
        except NotConnected:
            raise RuntimeError("the LocalServer stopped before the action finished") from None

    # ----------------------------------------------------------------- on the loop

    async def _serve(self) -> Server:
        self._stop_event = asyncio.Event()
        server: Server = await serve(
            self._handle,
            self._host,
            self._requested_port,
            process_request=self._process_request,
            ssl=self._tls,
            logger=RedactingLogger(logging.getLogger(f"{__package__}.websockets"), self.license),
            close_timeout=CLOSE_TIMEOUT,
            open_timeout=OPEN_TIMEOUT,
            ping_interval=None,
            max_size=MAX_FRAME_BYTES,
        )
        return server

    async def _shutdown(self, server: Server) -> None:
        """Close every connection (1001), give handshakes a moment, then abort the rest."""
        assert self._stop_event is not None
        self._stop_event.set()  # stalled handshakes give up
        server.close()
        try:
            await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT + 0.5)
        except asyncio.TimeoutError:  # not the builtin before Python 3.11
            for session in list(self._sessions.values()):
                session.drop()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), CLOSE_TIMEOUT)
        # Sessions whose handler has not returned yet still hold a peer connection (a UDP
        # socket); close those before the loop goes away.
        remaining = [s.close_media() for s in self._sessions.values()]
        await asyncio.gather(*remaining, return_exceptions=True)

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Only the endpoint path upgrades; the handshake faults act here.

        Plain HTTP requests under ``API_PATH`` get the avatar API's answer instead. Every
        upgrade request for the endpoint path gets its connection id here, before any handshake
        fault, so refused connections are counted and recorded too.
        """
        answer = self._avatar_api.respond(request, self.http_url)
        if answer is not None:
            return answer
        path = request.path.partition("?")[0]
        if path != ENDPOINT_PATH:
            log.debug("refused an upgrade for path %s (404)", path)
            return connection.respond(HTTPStatus.NOT_FOUND, "Not Found\n")
        connection_id = next(self._ids)
        faults = self._faults if self._faults.applies_to(connection_id) else Faults()  # none
        if faults.drop_at == "handshake":
            log.debug("connection %d: dropped during the handshake (fault)", connection_id)
            self._record_refused(connection_id, request)
            return await self._abort_handshake(connection)
        if faults.stall_handshake:
            log.debug("connection %d: stalling the handshake (fault)", connection_id)
            self._record_refused(connection_id, request, open=True)
            await self._until_gone_or_stopping(connection)
            self._context.journal.update_connection(connection_id, open=False)
            return await self._abort_handshake(connection)
        if faults.reject_http is not None:
            status = faults.reject_http
            log.debug("connection %d: refused with HTTP %d (fault)", connection_id, status)
            self._record_refused(connection_id, request)
            return connection.respond(status, f"{HTTPStatus(status).phrase}\n")
        self._upgrade_ids[connection] = connection_id
        return None

    def _record_refused(self, connection_id: int, request: Request, open: bool = False) -> None:
        info = refused_connection(connection_id, request.path, self._context, open)
        self._context.journal.add_connection(info)

    async def _abort_handshake(self, connection: ServerConnection) -> Response:
        """Abort the TCP connection; the response returned is never sent (it is closed)."""
        connection.transport.abort()
        await connection.wait_closed()
        return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "")

    async def _until_gone_or_stopping(self, connection: ServerConnection) -> None:
        assert self._stop_event is not None
        gone = asyncio.ensure_future(connection.wait_closed())
        stopping = asyncio.ensure_future(self._stop_event.wait())
        try:
            await asyncio.wait((gone, stopping), return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            stopping.cancel()

    async def _handle(self, ws: ServerConnection) -> None:
        connection_id = self._upgrade_ids.pop(ws, None)
        if connection_id is None:  # not expected: every upgrade passes _process_request
            connection_id = next(self._ids)
        session = ServerSession(ws, connection_id, self._context)
        self._sessions[session.id] = session
        try:
            await session.run()
        finally:
            del self._sessions[session.id]


def _padded_frame(size_bytes: int) -> str:
    """``{"type": LARGE_FRAME_TYPE, "data": {"padding": "xxx..."}}``, ``size_bytes`` long."""
    empty = frames.encode({"type": LARGE_FRAME_TYPE, "data": {"padding": ""}})
    if isinstance(size_bytes, bool) or not isinstance(size_bytes, int) or size_bytes < len(empty):
        raise ValueError(
            f"size_bytes must be an integer of at least {len(empty)}, got {size_bytes!r}"
        )
    return frames.encode(
        {"type": LARGE_FRAME_TYPE, "data": {"padding": "x" * (size_bytes - len(empty))}}
    )

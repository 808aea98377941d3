"""What the server saw, kept for the tests: received messages, connections and media.

The event loop thread writes, any thread reads; one ``threading.Condition`` guards all three
so ``wait_for_*`` can block without polling. Readers get immutable snapshots.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any, Callable

import attrs

from .received_audio import ReceivedAudio

__all__ = ["ReceivedMessage", "ConnectionInfo", "MediaInfo", "Journal", "MAX_JOURNAL_BYTES"]

#: The received frames kept, by their raw size: a server that runs for hours (a soak, a demo
#: left on) keeps the latest ones only. Past it the oldest are dropped and counted.
MAX_JOURNAL_BYTES = 32 * 1024 * 1024


@attrs.frozen
class ReceivedMessage:
    """One frame a client sent, valid or not, in arrival order.

    ``type`` is the message's ``type`` string ("" if it had none), ``message`` the decoded JSON
    (None if the frame was not JSON), ``error`` why it was refused (None when ``valid``),
    ``time`` a ``time.monotonic()`` stamp.
    """

    connection_id: int
    type: str
    message: dict[str, Any] | None
    raw: str | bytes = attrs.field(repr=False)
    valid: bool
    error: str | None
    time: float


@attrs.frozen
class ConnectionInfo:
    """One WebSocket connection. ``query`` is decoded, with the licence shown as ``***``."""

    id: int
    path: str
    query: dict[str, str]
    license_ok: bool
    avatar_id: str | None
    avatar_name: str | None
    model: str | None
    session_id: str | None
    open: bool = True


@attrs.frozen
class MediaInfo:
    """One connection's WebRTC media, as far as the server knows.

    ``ice_state`` is aiortc's ICE connection state ("new", "checking", "completed", "failed",
    "closed"; aiortc reports no "connected"), ``ice_states`` every state it went through.
    The journal's copy is updated at each signaling or ICE change; its counters
    (``frames_sent``, ``audio_frames_sent``) and ``speaking`` only when the connection ends.
    ``LocalServer.media_info()`` gives live ones for open connections.
    """

    connection_id: int
    offered: bool = False
    answered: bool = False
    candidates_received: int = 0
    ice_state: str = "new"
    ice_states: tuple[str, ...] = ()
    frames_sent: int = 0
    audio_frames_sent: int = 0
    speaking: bool = False


def _matches(record: ReceivedMessage, type: str | None, connection_id: int | None) -> bool:
    return (type is None or record.type == type) and (
        connection_id is None or record.connection_id == connection_id
    )


class Journal:
    """Thread-safe log of received messages, connections, their media and their audio."""

    def __init__(self, max_bytes: int = MAX_JOURNAL_BYTES) -> None:
        self._changed = threading.Condition()
        self._max_bytes = max_bytes
        self._bytes = 0
        self.messages_dropped = 0
        self._messages: collections.deque[ReceivedMessage] = collections.deque()
        self._connections: dict[int, ConnectionInfo] = {}
        self._media: dict[int, MediaInfo] = {}
        self._uplinks: dict[int, ReceivedAudio] = {}

    # ----------------------------------------------------------------- messages

    def add_message(
        self,
        connection_id: int,
        raw: str | bytes,
        message: dict[str, Any] | None,
        valid: bool,
        error: str | None,
    ) -> ReceivedMessage:
        kind = message.get("type") if message is not None else None
        record = ReceivedMessage(
            connection_id=connection_id,
            type=kind if isinstance(kind, str) else "",
            message=message,
            raw=raw,
            valid=valid,
            error=error,
            time=time.monotonic(),
        )
        with self._changed:
            self._messages.append(record)
            self._bytes += len(raw)
            while self._bytes > self._max_bytes and len(self._messages) > 1:
                self._bytes -= len(self._messages.popleft().raw)
                self.messages_dropped += 1
            self._changed.notify_all()
        return record

    def messages(
        self, type: str | None = None, connection_id: int | None = None
    ) -> list[ReceivedMessage]:
        with self._changed:
            return [m for m in self._messages if _matches(m, type, connection_id)]

    def wait_for_message(
        self,
        type: str,
        timeout: float,
        predicate: Callable[[ReceivedMessage], bool] | None = None,
    ) -> ReceivedMessage:
        def found() -> ReceivedMessage | None:
            return next(
                (
                    m
                    for m in self._messages
                    if m.type == type and (predicate is None or predicate(m))
                ),
                None,
            )

        with self._changed:
            record = self._changed.wait_for(found, timeout)
        if record is None:
            raise TimeoutError(f"no {type!r} message received within {timeout} s")
        return record

    # ----------------------------------------------------------------- connections

    def add_connection(self, info: ConnectionInfo) -> None:
        with self._changed:
            self._connections[info.id] = info
            self._changed.notify_all()

    def add_uplink(self, connection_id: int) -> ReceivedAudio:
        """A new, empty audio buffer for a connection (kept after it ends)."""
        uplink = ReceivedAudio()
        with self._changed:
            self._uplinks[connection_id] = uplink
        return uplink

    def uplink(self, connection_id: int | None = None) -> ReceivedAudio:
        """One connection's received audio (the latest connection's when None)."""
        with self._changed:
            if connection_id is None and self._uplinks:
                connection_id = max(self._uplinks)
            uplink = self._uplinks.get(connection_id) if connection_id is not None else None
        if uplink is None:
            raise KeyError(
                "no connection yet" if connection_id is None else f"no connection {connection_id}"
            )
        return uplink

    def update_connection(self, connection_id: int, **changes: Any) -> None:
        with self._changed:
            info = self._connections[connection_id]
            self._connections[connection_id] = attrs.evolve(info, **changes)
            self._changed.notify_all()

    def connections(self) -> list[ConnectionInfo]:
        with self._changed:
            return sorted(self._connections.values(), key=lambda c: c.id)

    def wait_for_connection(self, timeout: float, count: int = 1) -> ConnectionInfo:
        if count < 1:
            raise ValueError("count must be 1 or more")

        def found() -> ConnectionInfo | None:
            if len(self._connections) < count:
                return None
            return sorted(self._connections.values(), key=lambda c: c.id)[count - 1]

        with self._changed:
            info = self._changed.wait_for(found, timeout)
        if info is None:
            raise TimeoutError(f"fewer than {count} connection(s) within {timeout} s")
        return info

    # ----------------------------------------------------------------- media

    def add_media(self, info: MediaInfo) -> None:
        with self._changed:
            self._media[info.connection_id] = info
            self._changed.notify_all()

    def update_media(self, connection_id: int, **changes: Any) -> MediaInfo:
        with self._changed:
            info = attrs.evolve(self._media[connection_id], **changes)
            self._media[connection_id] = info
            self._changed.notify_all()
        return info

    def _media_of(self, connection_id: int | None) -> MediaInfo | None:
        if connection_id is None:
            return self._media[max(self._media)] if self._media else None
        return self._media.get(connection_id)

    def media(self, connection_id: int | None = None) -> MediaInfo:
        """One connection's media record (the latest connection's when None)."""
        with self._changed:
            info = self._media_of(connection_id)
        if info is None:
            raise KeyError(
                "no connection yet" if connection_id is None else f"no connection {connection_id}"
            )
        return info

    def wait_for_media(
        self, done: Callable[[MediaInfo], bool], timeout: float, connection_id: int | None = None
    ) -> MediaInfo:
        """The media record once ``done`` accepts it (the latest connection's when None)."""

        def found() -> MediaInfo | None:
            info = self._media_of(connection_id)
            return info if info is not None and done(info) else None

        with self._changed:
            info = self._changed.wait_for(found, timeout)
        if info is None:
            raise TimeoutError(f"the media did not reach the expected state within {timeout} s")
        return info

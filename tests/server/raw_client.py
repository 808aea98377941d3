"""A raw WebSocket client for the server's tests: ``Peer`` sends JSON and reads frames one
at a time; the constants name the events the tests look for."""

from __future__ import annotations

import base64
import json
import struct
import time
from typing import Any

import pytest
import websocket

from navtalk_sync.server import DEFAULT_AVATARS, LocalServer

SUCCESS = "conversation.connected.success"
WARNING = "conversation.connected.warning"
OFFER = "webrtc.signaling.offer"
FAIL = "conversation.connected.fail"
CREATED = "realtime.session.created"
UPDATED = "realtime.session.updated"
DELTA = "realtime.response.audio_transcript.delta"
DONE = "realtime.response.audio_transcript.done"
AUDIO_DONE = "realtime.response.audio.done"
ERROR = "realtime.response.error"
NOTICE_KINDS = [
    "fail",
    "close",
    "insufficient_balance",
    "gpu_full",
    "connection_limit_exceeded",
    "backend_error",
    "warning",
]
THREAD_NAME = "navtalk-local-server"
GREETING = "Hello, I am Leo. How can I help you today?"


# --------------------------------------------------------------------------- helpers


def avatar_id(name: str) -> str:
    return next(a.id for a in DEFAULT_AVATARS if a.name == name)


def text_item(text: str) -> dict[str, Any]:
    return {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": text}],
        },
    }


RESPONSE_CREATE = {"type": "response.create"}


class Peer:
    """A raw test client: JSON in and out, frames read one at a time."""

    def __init__(self, ws: websocket.WebSocket) -> None:
        self.ws = ws

    def send(self, message: dict[str, Any] | str | bytes) -> None:
        if isinstance(message, bytes):
            self.ws.send_binary(message)
        elif isinstance(message, str):
            self.ws.send(message)
        else:
            self.ws.send(json.dumps(message))

    def frame(self) -> tuple[int, bytes | str]:
        """The next data frame or close frame: (opcode, payload)."""
        opcode, frame = self.ws.recv_data_frame(True)
        while opcode in (websocket.ABNF.OPCODE_PING, websocket.ABNF.OPCODE_PONG):
            opcode, frame = self.ws.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_TEXT:
            return opcode, frame.data.decode("utf-8")
        return opcode, frame.data

    def recv(self) -> dict[str, Any]:
        """The next frame, which must be a JSON text frame."""
        opcode, payload = self.frame()
        assert opcode == websocket.ABNF.OPCODE_TEXT, f"expected a text frame, got {opcode}"
        return json.loads(payload)

    def until(self, event_type: str) -> list[dict[str, Any]]:
        """Frames up to and including the first of ``event_type``."""
        seen = []
        while True:
            seen.append(self.recv())
            if seen[-1]["type"] == event_type:
                return seen

    def close_frame(self) -> tuple[int, str]:
        """The next frame must be a close frame: (code, reason)."""
        opcode, payload = self.frame()
        assert opcode == websocket.ABNF.OPCODE_CLOSE, f"expected a close frame, got {payload!r}"
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        self.ws.shutdown()  # websocket-client answered the close; now end TCP like a real client
        return code, payload[2:].decode("utf-8")

    def assert_silent(self, seconds: float = 0.2) -> None:
        """Nothing arrives for a while (and the socket is still open)."""
        self.ws.settimeout(seconds)
        try:
            with pytest.raises(websocket.WebSocketTimeoutException):
                self.ws.recv_data_frame(True)
        finally:
            self.ws.settimeout(5)

    def ask(self, text: str | None) -> list[dict[str, Any]]:
        """Send an optional user text and response.create; the frames up to audio.done."""
        if text is not None:
            self.send(text_item(text))
        self.send(RESPONSE_CREATE)
        return self.until(AUDIO_DONE)


def types(frames: list[dict[str, Any]]) -> list[str]:
    return [f["type"] for f in frames]


def reply_of(frames: list[dict[str, Any]]) -> str:
    return next(f for f in frames if f["type"] == DONE)["data"]["content"]


PCM = base64.b64encode(b"\x00\x00\xff\xff\x01\x00").decode()
TOOL = {
    "type": "function",
    "name": "end_call",
    "description": "Hang up.",
    "parameters": {"type": "object", "properties": [], "required": []},  # JS SDK quirk
}
IMAGE = "data:image/jpeg;base64,/9j/4AAQSkZJRg=="


def wait_closed(server: LocalServer, connection_id: int = 1, timeout: float = 5.0) -> None:
    """Until the server has marked connection ``connection_id`` closed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not next(c for c in server.connections if c.id == connection_id).open:
            return
        time.sleep(0.01)
    raise AssertionError(f"connection {connection_id} still open")

"""What one session knows about its dialogue, and what the brain gets asked.

Pure state, no I/O: the session feeds it normalised client messages in arrival order; a
message that asks for an answer (``response.create``, an image with ``reply: 1``) yields the
``BrainRequest`` captured at that moment, so a request queued before the session is ready
still answers the text that preceded it.
"""

from __future__ import annotations

from typing import Any

from .avatars import Avatar
from .brain import BrainRequest
from .images import SeenImage, inspect_data_url
from .tool_rule import ToolCall, ToolResult
from .validate import (
    AudioAppend,
    ClientMessage,
    ConfigUpdate,
    ConversationItem,
    FunctionOutput,
    ImageInput,
    ResponseCreate,
    TextInput,
)

__all__ = ["Conversation", "MAX_OPEN_CALLS"]

#: Tool calls remembered while their output has not come.
MAX_OPEN_CALLS = 64


class Conversation:
    """User texts, the unanswered one, the configuration, and simple counters."""

    def __init__(self, avatar: Avatar | None) -> None:
        self.avatar_name = avatar.name if avatar else None
        self.voice = avatar.voice if avatar else None
        self.prompt = avatar.prompt if avatar else None
        self.tools: tuple[dict[str, Any], ...] = ()
        self.user_texts: list[str] = []
        self.pending: str | None = None
        self.audio_bytes = 0
        self.audio_chunks = 0
        self.images = 0
        #: every realtime.input_image, in arrival order
        self.seen_images: list[SeenImage] = []
        self.function_outputs: list[FunctionOutput] = []
        #: function calling: calls asked for whose output has not come (by call id, at most
        #: MAX_OPEN_CALLS, oldest forgotten first), and the output the next reply is about
        self.open_calls: dict[str, ToolCall] = {}
        self.tool_result: ToolResult | None = None

    def apply(self, message: ClientMessage) -> BrainRequest | None:
        """Take one message into account; return a request when it asks for an answer."""
        if isinstance(message, ConfigUpdate):
            self._configure(message)
        elif isinstance(message, ConversationItem):
            self.images += message.images
            if message.role == "user" and message.text is not None:
                self._add_user_text(message.text)
        elif isinstance(message, TextInput):
            self._add_user_text(message.text)
        elif isinstance(message, FunctionOutput):
            self.function_outputs.append(message)
            call = self.open_calls.pop(message.call_id, None)
            if call is not None:
                self.tool_result = ToolResult(call, message.output)
        elif isinstance(message, AudioAppend):
            self.audio_bytes += message.size
            self.audio_chunks += 1
        elif isinstance(message, ImageInput):
            self.images += 1
            image = inspect_data_url(message.data_url, message.reply)
            self.seen_images.append(image)
            return self.take_request(image) if message.reply else None
        elif isinstance(message, ResponseCreate):
            return self.take_request()
        return None

    def hear(self, text: str) -> BrainRequest:
        """What the user said aloud (recognised): a user turn that asks for an answer now."""
        self._add_user_text(text)
        return self.take_request()

    def take_request(self, image: SeenImage | None = None) -> BrainRequest:
        """The request for the next reply; the pending text counts as answered from now on.

        ``image``: the image that asks for this reply (``reply: 1``), if one does.
        """
        text, self.pending = self.pending, None
        result, self.tool_result = self.tool_result, None
        return BrainRequest(
            text=text,
            history=tuple(self.user_texts),
            voice=self.voice,
            prompt=self.prompt,
            avatar_name=self.avatar_name,
            image=image,
            tools=self.tools,
            tool_result=result,
        )

    def asked(self, call: ToolCall) -> None:
        """The brain asked the client for ``call``; its output will answer it."""
        self.open_calls[call.call_id] = call
        while len(self.open_calls) > MAX_OPEN_CALLS:
            del self.open_calls[next(iter(self.open_calls))]

    def end_history(self) -> None:
        """At ``session.updated``: texts replayed as history are past turns, not questions."""
        self.pending = None

    def _add_user_text(self, text: str) -> None:
        self.user_texts.append(text)
        self.pending = text

    def _configure(self, update: ConfigUpdate) -> None:
        if update.voice is not None:
            self.voice = update.voice
        if update.prompt is not None:
            self.prompt = update.prompt
        if update.tools is not None:
            self.tools = update.tools

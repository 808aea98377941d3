"""What the avatar says: the brain interface and a small deterministic rule brain.

A brain is any callable ``BrainRequest -> Reply | str | None``. It runs on a worker thread
(never on the server's event loop), so it may block, call a model or sleep. ``None`` (or an
empty text) means "no reply". An exception becomes a ``realtime.response.error`` frame and the
session goes on.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Mapping

import attrs

from .images import SeenImage
from .tool_rule import ToolCall, ToolResult, choose_tool, speak_result

__all__ = ["Brain", "BrainRequest", "Reply", "RuleBrain", "reply_text"]


@attrs.frozen
class BrainRequest:
    """One ``response.create`` as the brain sees it.

    ``text`` is the latest user text not answered yet, or None when there is none (a
    "speak first" request). ``history`` holds every user text of the session so far, oldest
    first, including replayed history and ``text`` itself. ``voice``/``prompt`` come from the
    client's configuration (else the avatar's defaults). ``image`` is the image that asked
    for this reply (``realtime.input_image`` with ``reply: 1``), else None.
    """

    text: str | None
    history: tuple[str, ...] = ()
    voice: str | None = None
    prompt: str | None = None
    avatar_name: str | None = None
    image: SeenImage | None = None
    #: function calling (protocol.md#tool-calls): the tools the client registered, and the
    #: output of the tool this brain asked for (with a ``ToolCall``) when this request
    #: follows it
    tools: tuple[Mapping[str, Any], ...] = ()
    tool_result: ToolResult | None = None


@attrs.frozen
class Reply:
    """What the avatar answers."""

    text: str


#: A ``ToolCall`` result asks the client to run a tool instead of answering
#: (protocol.md#tool-calls).
Brain = Callable[[BrainRequest], Reply | ToolCall | str | None]


def reply_text(result: object) -> str | None:
    """A brain's result as reply text; None for "no reply". Raises TypeError for other types."""
    if result is None:
        return None
    if isinstance(result, Reply):
        text = result.text
    elif isinstance(result, str):
        text = result
    else:
        raise TypeError(f"a brain must return Reply, str or None, not {type(result).__name__}")
    return text if text.strip() else None


def _display_name(avatar_name: str | None) -> str:
    """``navtalk.Leo`` -> ``Leo``; no name -> ``your assistant``."""
    if not avatar_name:
        return "your assistant"
    return avatar_name.rsplit(".", 1)[-1] or avatar_name


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


class RuleBrain:
    """A deterministic brain: same request, same answer. Rules, first match wins:

    1. no text (speak first): "Hello, I am <Name>. How can I help you today?"
       (<Name> = the avatar name after its last dot, e.g. ``navtalk.Leo`` -> ``Leo``);
    2. blank text: "Sorry, I did not catch that.";
    3. contains "what can you do": "I can chat with you, answer simple questions and repeat
       what you say.";
    4. contains "your name": "My name is <Name>.";
    5. a word "bye" or "goodbye": "Goodbye! Have a nice day.";
    6. starts with "hello", "hi" or "hey": "Hello! Nice to meet you.";
    7. otherwise an echo: "You said: <text>." (text with surrounding whitespace removed; no
       extra "." when it already ends with ".", "!" or "?").

    Matching ignores case and punctuation. ``voice`` and ``prompt`` are not used.

    Function calling, before rules 3-7: a tool's output is answered with a sentence that
    includes it (``tool_rule.speak_result``); a text that mentions a registered tool (see
    ``tool_rule.choose_tool``) becomes a ``ToolCall`` with the arguments read from it.

    An image that asks for a reply comes before every rule: "I see a picture of <W>x<H>
    pixels." (or "I could not make out that picture." when its header cannot be read).
    """

    def __call__(self, request: BrainRequest) -> Reply | ToolCall:
        if request.image is not None:
            return _describe_image(request.image)
        if request.tool_result is not None:
            return Reply(speak_result(request.tool_result))
        name = _display_name(request.avatar_name)
        if request.text is None:
            return Reply(f"Hello, I am {name}. How can I help you today?")
        words = _words(request.text)
        joined = " ".join(words)
        if not words:
            return Reply("Sorry, I did not catch that.")
        tool_call = choose_tool(request.text, request.tools) if request.tools else None
        if tool_call is not None:
            return tool_call
        if "what can you do" in joined:
            return Reply("I can chat with you, answer simple questions and repeat what you say.")
        if "your name" in joined:
            return Reply(f"My name is {name}.")
        if {"bye", "goodbye"} & set(words):
            return Reply("Goodbye! Have a nice day.")
        if words[0] in ("hello", "hi", "hey"):
            return Reply("Hello! Nice to meet you.")
        echo = request.text.strip()
        return Reply(f"You said: {echo}" + ("" if echo[-1] in ".!?" else "."))

    def __repr__(self) -> str:
        return "RuleBrain()"


def _describe_image(image: SeenImage) -> Reply:
    if not image.readable:
        return Reply("I could not make out that picture.")
    return Reply(f"I see a picture of {image.width}x{image.height} pixels.")

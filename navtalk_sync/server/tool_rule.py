"""The server's side of function calling (protocol.md#tool-calls): when to call a tool, with
what, and the frame that asks for it.

A brain asks for a tool by returning a ``ToolCall``; the session sends it in the shape
protocol.md#tool-calls shows, waits for the client's ``function_call_output`` and the next
``response.create``, and hands the brain a ``ToolResult``. The rule brain's part lives here too:
``choose_tool`` picks the registered tool the user's words mention and fills the arguments it
can read from them (``"book a table for 4 at 7pm"`` -> ``{"guests": 4, "time": "7pm"}``), and
``speak_result`` turns the client's output into a sentence.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Mapping, Sequence

import attrs

__all__ = ["ToolCall", "ToolResult", "choose_tool", "fill_arguments", "function_call_done",
           "speak_result"]  # fmt: skip

FUNCTION_CALL_DONE = "realtime.response.function_call_arguments.done"
#: The shapes of a call's ``data.arguments``: "object", as the hosted service sends it (a
#: payload captured in the official web SDK's source), or "string", OpenAI's JSON text.
ARGUMENT_FORMS = ("object", "string")
#: Words of a tool's name shorter than this do not count as a mention ("get", "end", "set").
MIN_KEYWORD_LETTERS = 4

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
                 "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}  # fmt: skip
_DAYS = ("today", "tomorrow", "tonight", "monday", "tuesday", "wednesday", "thursday", "friday",
         "saturday", "sunday")  # fmt: skip
_CLOCK = r"(?:\d{1,2}|" + "|".join(_NUMBER_WORDS) + ")"
# "7pm", "7 pm", "7 p.m.", "seven p m", "19:30"
_TIME = re.compile(
    rf"\b({_CLOCK})(?::(\d{{2}}))?\s*([ap])\.?\s?m\b\.?|\b(\d{{1,2}}):(\d{{2}})\b", re.IGNORECASE
)
_NUMBER = re.compile(r"\b(\d+(?:\.\d+)?|" + "|".join(_NUMBER_WORDS) + r")\b", re.IGNORECASE)
_CODE = re.compile(r"\b[A-Za-z]+-?\d[A-Za-z0-9-]*")  # "A-1042", "AB12"


@attrs.frozen
class ToolCall:
    """A brain's request that the client run ``name`` with ``arguments``."""

    name: str
    arguments: Mapping[str, Any] = attrs.field(factory=dict)
    call_id: str = attrs.field(factory=lambda: f"call_{uuid.uuid4().hex[:16]}")


@attrs.frozen
class ToolResult:
    """A ``ToolCall`` and the output the client sent back for it (a string, as sent)."""

    call: ToolCall
    output: str


def function_call_done(
    call: ToolCall, response_id: str, arguments_form: str = "object"
) -> dict[str, Any]:
    """The call event as protocol.md#tool-calls shows it: ``data`` with ``function_name``,
    ``call_id`` and ``arguments`` (an object; as a JSON string, with ``name`` too, when
    ``arguments_form`` is "string"), plus ``raw_data``, the OpenAI event it came from."""
    arguments = json.dumps(dict(call.arguments), ensure_ascii=False)
    data: dict[str, Any] = {"function_name": call.name, "call_id": call.call_id}
    if arguments_form == "string":
        data.update(name=call.name, arguments=arguments)
    else:
        data["arguments"] = dict(call.arguments)
    return {
        "type": FUNCTION_CALL_DONE,
        "data": data,
        "raw_data": {
            "type": "response.function_call_arguments.done",
            "event_id": f"event_{uuid.uuid4().hex[:16]}",
            "response_id": response_id,
            "item_id": f"item_{uuid.uuid4().hex[:16]}",
            "output_index": 0,
            "call_id": call.call_id,
            "name": call.name,
            "arguments": arguments,
        },
    }


# --------------------------------------------------------------------------- the rule


def choose_tool(text: str, tools: Sequence[Mapping[str, Any]]) -> ToolCall | None:
    """The tool the text mentions most (its name, or a word of it of 4+ letters, as a word
    or a word's beginning: "book" matches "booking"); the first registered wins a tie."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    spoken = " ".join(words)
    best, best_score = None, 0
    for tool in tools:
        name = tool.get("name")
        if not isinstance(name, str):
            continue
        keywords = [w for w in _name_words(name) if len(w) >= MIN_KEYWORD_LETTERS]
        score = sum(any(word.startswith(k) for word in words) for k in keywords)
        if " ".join(_name_words(name)) in spoken or name.lower() in text.lower():
            score += len(keywords) + 1
        if score > best_score:
            best, best_score = tool, score
    if best is None:
        return None
    return ToolCall(best["name"], fill_arguments(text, best.get("parameters")))


def _name_words(name: str) -> list[str]:
    """``book_table`` / ``bookTable`` / ``book-table`` -> ``["book", "table"]``."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[^a-zA-Z0-9]+", spaced.lower()) if w]


def fill_arguments(text: str, parameters: Any) -> dict[str, Any]:
    """The arguments the text gives, by each property's name and type (schema order).

    A choice (``enum``) mentioned in the text; numbers (digits or "one".."twelve") in order
    for integer/number properties; a clock time for string properties named like time/hour/
    when; a day word for date/day ones; another string gets a code such as ``A-1042`` if the
    text has one, else, when required, the whole text. Nothing else is guessed.
    """
    properties = parameters.get("properties") if isinstance(parameters, Mapping) else None
    if not isinstance(properties, Mapping):
        return {}
    required = parameters.get("required")
    required = set(required) if isinstance(required, list) else set()
    times = [_clock(m) for m in _TIME.finditer(text)]
    rest = _TIME.sub(" ", text)
    numbers = [_number(m.group(1)) for m in _NUMBER.finditer(rest)]
    codes = [m.group(0) for m in _CODE.finditer(rest)]
    lower = text.lower()
    arguments: dict[str, Any] = {}
    for name, schema in properties.items():
        value = _value(name, schema if isinstance(schema, Mapping) else {}, lower, times,
                       numbers, codes)  # fmt: skip
        if value is None and name in required and _kind(schema) == "string":
            value = text.strip()
        if value is not None:
            arguments[name] = value
    return arguments


def _kind(schema: Any) -> Any:
    return schema.get("type") if isinstance(schema, Mapping) else None


def _value(name: str, schema: Mapping[str, Any], lower: str, times: list[str],
           numbers: list[float], codes: list[str]) -> Any:  # fmt: skip
    kind, key = schema.get("type"), name.lower()
    choices = schema.get("enum")
    if isinstance(choices, list):
        for choice in choices:
            if isinstance(choice, str) and re.search(rf"\b{re.escape(choice.lower())}\b", lower):
                return choice
        return None
    if kind in ("integer", "number") and numbers:
        number = numbers.pop(0)
        return int(number) if kind == "integer" else number
    if kind != "string":
        return None
    if any(word in key for word in ("time", "hour", "when")):
        return times.pop(0) if times else None
    if "date" in key or "day" in key:
        return next((day for day in _DAYS if re.search(rf"\b{day}\b", lower)), None)
    return codes.pop(0) if codes else None


def _number(token: str) -> float:
    word = _NUMBER_WORDS.get(token.lower())
    return float(word) if word is not None else float(token)


def _clock(match: re.Match[str]) -> str:
    """A time as said: ``7pm``, ``7:30pm``, ``19:30``."""
    if match.group(4) is not None:
        return f"{int(match.group(4))}:{match.group(5)}"
    hour = int(_number(match.group(1)))
    minutes = f":{match.group(2)}" if match.group(2) else ""
    return f"{hour}{minutes}{match.group(3).lower()}m"


# --------------------------------------------------------------------------- the answer


def speak_result(result: ToolResult) -> str:
    """What the rule brain says about a tool's output (the output is always in it)."""
    spoken_name = " ".join(_name_words(result.call.name))
    output = result.output.strip()
    try:
        decoded = json.loads(output)
    except ValueError:
        decoded = output
    if isinstance(decoded, Mapping) and decoded.get("status") == "error":
        return f"Sorry, {spoken_name} failed: {decoded.get('error', output)}."
    if isinstance(decoded, Mapping) and decoded.get("status") == "ignored":
        return f"Sorry, I cannot use {spoken_name} here."
    if isinstance(decoded, str):
        text = decoded
    elif isinstance(decoded, Mapping):
        text = ", ".join(f"{key} {value}" for key, value in decoded.items())
    else:
        text = output
    text = text or "done"
    return f"{spoken_name.capitalize()} says: {text}" + ("" if text[-1] in ".!?" else ".")

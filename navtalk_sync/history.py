"""The conversation as it happened: ``client.history``.

A ``History`` is a list of ``Turn`` records, oldest first: what the user typed or said (as the
server transcribed it), the avatar's replies, the tool calls the model asked for and the
results sent back, the images sent, each with a timestamp. The session feeds it from the
reader thread (received events) and from the sending threads (sent messages); each record is a
short append under a lock, so neither side ever waits on it.

It is bounded: past ``max_turns`` records the oldest go first (counted in ``dropped``), so a
session that runs for days keeps a fixed amount of memory. ``save(path)`` / ``History.load(path)``
keep it as JSON; a ``History`` passed to a new client as ``history=`` replays its user turns
after ``realtime.session.created`` (protocol.md#history-replay: assistant turns are not
replayed).
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import os
import threading
import time
from typing import Any, Iterable, Iterator, Mapping

import attrs

from . import messages
from .errors import InvalidArgument
from .events import Event, FunctionCallArgumentsDone, InputTranscriptionCompleted
from .paths import check_new_file, check_path, read_regular_file

__all__ = ["Turn", "History", "ROLES", "KINDS", "DEFAULT_MAX_TURNS"]

#: Who a turn is from.
ROLES = ("user", "assistant", "tool")
#: What a turn is: typed text, transcribed speech, an avatar reply, a tool call asked for by
#: the model, the result sent back, an image sent.
KINDS = ("text", "speech", "reply", "tool_call", "tool_result", "image")
#: The user turns a new client replays (the others are kept for the reader of the history).
REPLAYED_KINDS = ("text", "speech")
#: Records kept before the oldest are dropped.
DEFAULT_MAX_TURNS = 10_000
#: The largest history file ``load()`` reads (10,000 turns take about 2 MB).
MAX_HISTORY_BYTES = 100 * 1024 * 1024
_FILE_FORMAT = "navtalk-history"
_FILE_VERSION = 1


def _check_role(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in ROLES:
        raise InvalidArgument(f"a turn's role is one of {ROLES}, got {value!r}")


def _check_kind(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value not in KINDS:
        raise InvalidArgument(f"a turn's kind is one of {KINDS}, got {value!r}")


def _check_text(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidArgument(f"a turn's text must be a string, got {value!r}")


def _optional_str(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and not isinstance(value, str):
        raise InvalidArgument(f"a turn's {attribute.name} must be a string or None, got {value!r}")


def _check_flag(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if not isinstance(value, bool):
        raise InvalidArgument(f"a turn's {attribute.name} must be true or false, got {value!r}")


def _check_time(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidArgument(f"a turn's time must be seconds since the epoch, got {value!r}")


@attrs.frozen
class Turn:
    """One record of the conversation.

    ``time`` is seconds since the epoch (``time.time()``). ``text`` is what was said, typed or
    replied; for a tool call the arguments as JSON text, for a tool result the output text, for
    an image "" (the picture itself is not kept). ``name`` is a tool call's function name,
    ``call_id`` links a tool call to its result. ``interrupted``: a reply the user cut off
    (``client.interrupt()`` or talking over it), so its ``text`` is more than was heard.
    """

    role: str = attrs.field(validator=_check_role)
    kind: str = attrs.field(validator=_check_kind)
    text: str = attrs.field(validator=_check_text)
    time: float = attrs.field(validator=_check_time)
    name: str | None = attrs.field(default=None, validator=_optional_str)
    call_id: str | None = attrs.field(default=None, validator=_optional_str)
    interrupted: bool = attrs.field(default=False, validator=_check_flag)

    @property
    def replayed(self) -> bool:
        """Does a new client replay this turn (a user's typed or spoken words)?"""
        return self.role == "user" and self.kind in REPLAYED_KINDS and bool(self.text.strip())

    def to_dict(self) -> dict[str, Any]:
        record = {"role": self.role, "kind": self.kind, "text": self.text, "time": self.time}
        if self.name is not None:
            record["name"] = self.name
        if self.call_id is not None:
            record["call_id"] = self.call_id
        if self.interrupted:
            record["interrupted"] = True
        return record

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Turn:
        if not isinstance(record, Mapping):
            raise InvalidArgument(f"a turn is an object, got {record!r}")
        unknown = set(record) - {"role", "kind", "text", "time", "name", "call_id", "interrupted"}
        if unknown:
            raise InvalidArgument(f"unknown field(s) in a turn: {', '.join(sorted(unknown))}")
        try:
            return cls(**record)
        except TypeError as exc:  # a missing field
            raise InvalidArgument(f"an incomplete turn {dict(record)!r}: {exc}") from None


def _input_text(part: Any) -> str | None:
    """The text of one ``input_text`` content part of a user message, else None."""
    if isinstance(part, Mapping) and part.get("type") == "input_text":
        text = part.get("text")
        return text if isinstance(text, str) else None
    return None


class History:
    """The conversation of a client, oldest turn first; thread-safe and bounded.

    Iterate it (or ``turns()``) for ``Turn`` records; ``user_texts()`` for what a new client
    replays. ``max_turns`` bounds it: past that the oldest records are dropped (``dropped``
    counts them).
    """

    def __init__(self, turns: Iterable[Turn] = (), max_turns: int = DEFAULT_MAX_TURNS) -> None:
        if isinstance(max_turns, bool) or not isinstance(max_turns, int) or max_turns < 1:
            raise InvalidArgument(f"max_turns must be a positive integer, got {max_turns!r}")
        self._lock = threading.Lock()
        self._turns: collections.deque[Turn] = collections.deque(maxlen=max_turns)
        self.dropped = 0
        if isinstance(turns, (str, bytes, Mapping)) or not isinstance(turns, Iterable):
            raise InvalidArgument(f"a History is made from Turn records, got {turns!r}")
        for turn in turns:
            if not isinstance(turn, Turn):
                raise InvalidArgument(f"a History holds Turn records, got {turn!r}")
            self._append(turn)

    # ------------------------------------------------------------------ reading

    def turns(self) -> list[Turn]:
        """A snapshot of every record, oldest first."""
        with self._lock:
            return list(self._turns)

    def user_texts(self) -> list[str]:
        """The user's typed and spoken words, oldest first: what a new client replays."""
        return [turn.text for turn in self.turns() if turn.replayed]

    def __iter__(self) -> Iterator[Turn]:
        return iter(self.turns())

    def __len__(self) -> int:
        with self._lock:
            return len(self._turns)

    @property
    def max_turns(self) -> int:
        return self._turns.maxlen or 0

    def __repr__(self) -> str:
        return f"<History {len(self)} turns>"

    # ------------------------------------------------------------------ recording

    def add(
        self,
        role: str,
        kind: str,
        text: str,
        *,
        name: str | None = None,
        call_id: str | None = None,
        at: float | None = None,
    ) -> Turn:
        """Record one turn (``at``: seconds since the epoch, default now)."""
        turn = Turn(role, kind, text, time.time() if at is None else at, name, call_id)
        with self._lock:
            self._append(turn)
        return turn

    def _append(self, turn: Turn) -> None:
        if len(self._turns) == self._turns.maxlen:
            self.dropped += 1
        self._turns.append(turn)

    def observe(self, event: Event) -> None:
        """Record what a received event adds to the conversation (reader thread: no waiting).

        Replies are not among them: ``replies.ReplyTracker`` puts each one together and hands
        it to ``add_reply``.
        """
        if isinstance(event, InputTranscriptionCompleted):
            if event.text.strip():
                self.add("user", "speech", event.text)
        elif isinstance(event, FunctionCallArgumentsDone):
            arguments = event.arguments_json
            if event.arguments is not None:
                try:
                    arguments = json.dumps(event.arguments, ensure_ascii=False)
                except (ValueError, RecursionError):  # nested deeper than JSON goes
                    arguments = "(arguments too deeply nested to record)"
            call_id = event.call_id
            self.add("assistant", "tool_call", arguments or "", name=event.name, call_id=call_id)

    def observe_sent(self, message: Mapping[str, Any]) -> None:
        """Record what a message the client sent adds to the conversation."""
        kind = message.get("type")
        if kind == messages.INPUT_IMAGE:
            self.add("user", "image", "")
            return
        if kind != messages.ITEM_CREATE:
            return
        item = message.get("item")
        if not isinstance(item, Mapping):
            return
        if item.get("type") == "function_call_output":
            output = item.get("output")
            output = output if isinstance(output, str) else ""
            self.add("tool", "tool_result", output, call_id=item.get("call_id"))
        elif item.get("role") == "user":
            texts = [text for text in map(_input_text, item.get("content") or ()) if text]
            if texts:
                self.add("user", "text", "\n".join(texts))

    def add_reply(self, text: str, interrupted: bool = False) -> None:
        """Record one finished reply of the avatar (``interrupted``: the user cut it off)."""
        with self._lock:
            self._append(Turn("assistant", "reply", text, time.time(), interrupted=interrupted))

    def mark_last_reply_interrupted(self) -> None:
        """The user cut off the last reply recorded (its voice plays after its text)."""
        with self._lock:
            for index in range(len(self._turns) - 1, -1, -1):
                turn = self._turns[index]
                if turn.role == "assistant" and turn.kind == "reply":
                    self._turns[index] = attrs.evolve(turn, interrupted=True)
                    return

    # ------------------------------------------------------------------ files

    def to_json(self) -> str:
        document = {
            "format": _FILE_FORMAT,
            "version": _FILE_VERSION,
            "turns": [turn.to_dict() for turn in self.turns()],
        }
        return json.dumps(document, ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str, max_turns: int = DEFAULT_MAX_TURNS) -> History:
        if not isinstance(text, (str, bytes)):
            raise InvalidArgument(f"a history is JSON text, got {type(text).__name__}")
        try:
            document = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise InvalidArgument(f"a history is JSON: {exc}") from None
        if not isinstance(document, Mapping) or document.get("format") != _FILE_FORMAT:
            raise InvalidArgument(f'not a saved history (no "format": "{_FILE_FORMAT}")')
        if document.get("version") != _FILE_VERSION:
            raise InvalidArgument(f"unsupported history version {document.get('version')!r}")
        turns = document.get("turns")
        if not isinstance(turns, list):
            raise InvalidArgument('a saved history needs a list of "turns"')
        return cls((Turn.from_dict(record) for record in turns), max_turns)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the history to ``path`` as JSON (replacing the file whole, never half).
        ``InvalidArgument`` when it cannot be written (nothing is left behind then)."""
        target = check_new_file(path)
        temporary = f"{target}.tmp-{os.getpid()}"
        try:
            with open(temporary, "w", encoding="utf-8") as file:
                file.write(self.to_json())
            os.replace(temporary, target)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise InvalidArgument(f"cannot write the history to {target!r}: {exc}") from None

    @classmethod
    def load(cls, path: str | os.PathLike[str], max_turns: int = DEFAULT_MAX_TURNS) -> History:
        """Read a history written by ``save()``; ``InvalidArgument`` for a bad file."""
        source = check_path(path)
        try:
            text = read_regular_file(source, MAX_HISTORY_BYTES, "history")
        except OSError as exc:
            raise InvalidArgument(f"cannot read the history {source!r}: {exc}") from None
        return cls.from_json(text.decode("utf-8", errors="replace"), max_turns)

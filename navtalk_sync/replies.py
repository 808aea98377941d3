"""The avatar's replies: which events make one up and end it, and what the client knows of them.

This is the one place that decides when a reply starts and ends. ``ReplyTracker`` is fed every
event once, on the reader thread, before anyone else sees it. From that it knows how many
replies were asked for and have not ended, whether one is under way, and the text of each.
The session counts the replies it asks for into it, the history takes each finished reply's
text from it, and ``wait_until_quiet`` waits on it. ``ReplyCollector`` builds the text of the
one reply an ``ask()`` waits for, out of the events its subscription receives.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable

from .errors import NavTalkTimeout, NotConnected, ResponseFailed
from .events import (
    Event,
    FunctionCallArgumentsDone,
    ResponseAudioDelta,
    ResponseAudioDone,
    ResponseFailure,
    ResponseTranscriptDelta,
    ResponseTranscriptDone,
)
from .redaction import redact
from .turns import TurnClock

__all__ = ["REPLY_ENDINGS", "REPLY_EVENTS", "ReplyCollector", "ReplyEnds", "ReplyTracker"]

#: The events a reply is made of (protocol.md#reply-events).
REPLY_EVENTS = (
    ResponseTranscriptDelta,
    ResponseTranscriptDone,
    ResponseAudioDelta,
    ResponseAudioDone,
    FunctionCallArgumentsDone,
    ResponseFailure,
)
#: The events that end a reply (see ``ReplyEnds``).
REPLY_ENDINGS = (ResponseAudioDone, FunctionCallArgumentsDone, ResponseFailure)
#: Replies whose pieces are put together at once (more: the oldest is given up).
MAX_OPEN_REPLIES = 16
#: Characters of one reply put together from pieces (more are not kept: a reply that never
#: ends must not grow without bound).
MAX_REPLY_CHARS = 1_000_000


def reply_failed(event: ResponseFailure) -> ResponseFailed:
    """The error a call waiting for a reply raises when the server reports it failed."""
    return ResponseFailed(event.message or "the server reported a failed reply", event)


class ReplyEnds:
    """The rule for when a reply is over, with the memory it needs.

    A reply ends with its audio (``audio.done``; a transcript may end before it), with a call
    for a tool (``function_call_arguments.done``: a response that ends in a tool call carries
    no audio of its own, protocol.md#tool-calls), or with an error; and it ends once: an
    ``audio.done`` that a server sends after the tool call of the same response is not the end
    of another reply.
    """

    def __init__(self) -> None:
        self._ended: collections.deque[str] = collections.deque(maxlen=MAX_OPEN_REPLIES)

    def __call__(self, event: Event) -> bool:
        """Does ``event`` end a reply (that had not ended yet)?"""
        if not isinstance(event, REPLY_ENDINGS):
            return False
        response_id = getattr(event, "response_id", None)
        if response_id is not None:
            if response_id in self._ended:
                return False
            self._ended.append(response_id)
        return True


def _joined(pieces: list[str]) -> str:
    # a secret split across two pieces was hidden in neither: the whole is redacted again
    return redact("".join(pieces))


class _Texts:
    """Each reply's text from its pieces, by ``response_id``, within the bounds above."""

    def __init__(self) -> None:
        self._pieces: dict[str | None, list[str]] = {}
        self._chars: dict[str | None, int] = {}

    def add(self, response_id: str | None, text: str) -> None:
        if response_id not in self._pieces and len(self._pieces) >= MAX_OPEN_REPLIES:
            oldest = next(iter(self._pieces))  # a reply that never ended
            del self._pieces[oldest], self._chars[oldest]
        chars = self._chars.get(response_id, 0) + len(text)
        if chars <= MAX_REPLY_CHARS:
            self._pieces.setdefault(response_id, []).append(text)
            self._chars[response_id] = chars

    def finish(self, response_id: str | None, text: str | None) -> str | None:
        """The reply's whole text (``text`` when the server sent it whole), once."""
        pieces = self._pieces.pop(response_id, None)
        self._chars.pop(response_id, None)
        if text is None and pieces is not None:
            text = _joined(pieces)
        return text


class ReplyTracker:
    """The replies of one client, across its sessions (see the module text)."""

    def __init__(
        self,
        on_reply: Callable[[str, bool], None] = lambda text, interrupted: None,
        clock: TurnClock | None = None,
        on_cut_recorded: Callable[[], None] = lambda: None,
    ) -> None:
        """``on_reply(text, interrupted)`` gets each finished reply's text, and whether the
        user cut it off; ``on_cut_recorded()`` is called when the reply cut off had been
        given to ``on_reply`` already (see ``cut``); ``clock`` times each reply."""
        self._on_reply = on_reply
        self._on_cut_recorded = on_cut_recorded
        self._clock = clock
        self._cond = threading.Condition()
        self._pending = 0  # response.create sent, reply not ended (this session)
        self._speaking = False  # a reply is under way
        self._text_given = False  # the reply under way has been given to on_reply
        self._cut_next = False  # the next text given to on_reply is of a cut reply
        self._last_activity = time.monotonic()
        self._closed = False
        self._texts = _Texts()
        self._ends = ReplyEnds()
        # what the last observed event did, for the turn clock once it is published
        self._finished: str | None = None  # the reply text it finished
        self._ended = False  # it ended a reply (``ReplyEnds``)

    @property
    def pending(self) -> int:
        """Replies asked for in this session that have not ended."""
        return self._pending

    @property
    def open(self) -> bool:
        """A reply is under way, or asked for and not begun."""
        return self._speaking or self._pending > 0

    def cut(self) -> bool | None:
        """The user cut the avatar off: mark the reply it was on, as ``on_reply`` gets it, or
        (its text given already) through ``on_cut_recorded``. Returns whether that reply is
        still open (under way, its end to come, or asked for and not begun), or None when no
        reply is open or owed (the last one given is marked then too)."""
        with self._cond:
            owed_or_open = self._speaking or self._pending > 0
            if owed_or_open and not (self._speaking and self._text_given):
                self._cut_next = True
                return True
        self._on_cut_recorded()
        return True if owed_or_open else None

    def new_session(self) -> None:
        """A new session knows nothing of the last one's replies."""
        with self._cond:
            self._cut_next = self._text_given = False
            self._pending, self._speaking = 0, False
            self._texts = _Texts()  # pieces of a reply the drop cut off are not joined to another
            self._ends = ReplyEnds()
            self._cond.notify_all()
        if self._clock is not None:
            self._clock.new_session()

    def asked(self) -> None:
        """A ``response.create`` went out: a reply is owed."""
        with self._cond:
            self._pending += 1
            self._last_activity = time.monotonic()
            self._cond.notify_all()

    def observe(self, event: Event) -> None:
        """Take one received event (reader thread, before it is published)."""
        self._finished, self._ended = None, False
        if not isinstance(event, REPLY_EVENTS):
            return
        given = cut = False
        with self._cond:
            finished = self._text_step(event)
            self._last_activity = time.monotonic()
            if finished is not None and finished.strip():
                given, cut, self._cut_next = True, self._cut_next, False
                self._text_given = True
            self._ended = self._ends(event)
            if self._ended:
                self._speaking = self._text_given = False
                self._pending = max(0, self._pending - 1)
                if not given and isinstance(event, ResponseFailure):
                    self._cut_next = False  # the cut reply failed: nothing to mark
            elif not isinstance(event, REPLY_ENDINGS):  # a late second end says nothing new
                self._speaking = True
            self._cond.notify_all()
        self._finished = finished
        if given and finished is not None:
            self._on_reply(finished, cut)

    def published(self, event: Event) -> None:
        """``event`` has been published (reader thread): the turn clock takes it now, so a
        turn report it completes comes after it, in the order of events."""
        if self._clock is not None:
            self._clock.observe(event, self._finished, self._ended)

    def _text_step(self, event: Event) -> str | None:
        if isinstance(event, ResponseTranscriptDelta):
            self._texts.add(event.response_id, event.text)
        elif isinstance(event, ResponseTranscriptDone):
            return self._texts.finish(event.response_id, event.text)
        elif isinstance(event, ResponseAudioDone):  # a reply without transcript.done
            return self._texts.finish(event.response_id, None)
        return None

    def wait_quiet(self, grace: float, timeout: float) -> None:
        """Block until no reply is under way or asked for, for ``grace`` seconds in a row.

        Raises ``NavTalkTimeout`` after ``timeout``, ``NotConnected`` once closed.
        """
        started = time.monotonic()
        deadline = started + timeout
        with self._cond:
            while True:
                if self._closed:
                    raise NotConnected("the client was closed")
                now = time.monotonic()
                wake = deadline - now
                if not (self._speaking or self._pending):
                    quiet_for = now - max(self._last_activity, started)
                    if quiet_for >= grace:
                        return
                    wake = min(wake, grace - quiet_for)
                if now >= deadline:
                    raise NavTalkTimeout("the avatar to finish speaking", timeout)
                self._cond.wait(wake)

    def close(self) -> None:
        """Wake every ``wait_quiet`` with ``NotConnected``."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class ReplyCollector:
    """Puts one reply's text together from its transcript events (protocol.md#reply-events).

    ``skip`` replies that were asked for before (and have not ended) are let pass first: each
    ends as ``ReplyEnds`` says, so the reply wanted is the one after them. A reply that ends in
    a tool call is not the answer: the answer is the reply the tool's result brings.
    """

    #: The events it needs (the reply's audio is not among them).
    WATCHED = (ResponseTranscriptDelta, ResponseTranscriptDone, *REPLY_ENDINGS)

    def __init__(self, skip: int) -> None:
        self._ends = ReplyEnds()
        self.skip = skip
        self.response_id: str | None = None
        self.parts: list[str] = []
        self.started = False

    def add(self, event: Event) -> str | None:
        """Feed an event; returns the reply text once it is complete."""
        ended = self._ends(event)
        if self.skip:
            self.skip -= 1 if ended else 0
            return None
        if isinstance(event, ResponseFailure):
            raise reply_failed(event)
        response_id = getattr(event, "response_id", None)
        if isinstance(event, FunctionCallArgumentsDone):
            if self.started and response_id in (None, self.response_id):
                self.started, self.response_id, self.parts = False, None, []  # not the answer
            return None
        if isinstance(event, ResponseAudioDone):
            # a server that sends no transcript.done ends the reply here
            if self.started and response_id in (None, self.response_id):
                return _joined(self.parts)
            return None
        if not self.started:
            self.started, self.response_id = True, response_id
        elif response_id is not None and response_id != self.response_id:
            return None
        if isinstance(event, ResponseTranscriptDelta):
            self.parts.append(event.text)
            return None
        if isinstance(event, ResponseTranscriptDone):
            return event.text if event.text is not None else _joined(self.parts)
        return None

"""What the demo shows as it happens: state changes, what the user said, the reply streaming in.

The callbacks run on the client's dispatcher thread, in arrival order.
"""

from __future__ import annotations

import sys
import threading

from .. import NavTalkClient, events

__all__ = ["LivePrinter"]


class LivePrinter:
    """Prints the conversation live (text questions: ``begin_reply()``, then ``end_reply()``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._streaming = False  # in the middle of a reply's line
        self._replied = False  # a delta of the current reply was printed

    def attach(self, client: NavTalkClient, spoken: bool = False) -> None:
        client.on("client.state", self._state)
        client.on(events.ConnectedWarning, self._warning)
        client.on(events.ResponseTranscriptDelta, self._delta)
        client.on(events.ResponseTranscriptDone, self._reply_done)
        if spoken:
            client.on(events.SpeechStarted, lambda event: self._note("you are speaking"))
            client.on(events.SpeechStopped, lambda event: self._note("you stopped speaking"))
            client.on(events.InputTranscriptionCompleted, self._heard)

    def begin_reply(self) -> None:
        """A text question was asked: its reply is the next one."""
        with self._lock:
            self._streaming = False
            self._replied = False
            self._done.clear()

    def end_reply(self, reply: str) -> None:
        """``ask()`` returned ``reply``; print it unless its deltas were printed already."""
        # ask() returns as soon as the reply arrives; its callbacks (the printing) run on the
        # dispatcher, in order, the done callback last.
        self._done.wait(5.0)
        with self._lock:
            if not self._replied:
                sys.stdout.write(f"avatar: {reply}\n")
            sys.stdout.write("\n")
            sys.stdout.flush()

    def _state(self, event: events.Event) -> None:
        assert isinstance(event, events.StateChanged)
        reason = f" ({event.reason})" if event.reason else ""
        self._line(f"  [state] {event.previous} -> {event.state}{reason}")

    def _warning(self, event: events.Event) -> None:
        self._line(f"  [warning] {getattr(event, 'message', '')}")

    def _note(self, text: str) -> None:
        self._line(f"  [{text}]")

    def _heard(self, event: events.Event) -> None:
        assert isinstance(event, events.InputTranscriptionCompleted)
        self._line(f"you:    {event.text}")

    def _delta(self, event: events.Event) -> None:
        assert isinstance(event, events.ResponseTranscriptDelta)
        with self._lock:
            if not self._streaming:
                sys.stdout.write("avatar: ")
                self._streaming = True
            self._replied = True
            sys.stdout.write(event.text)
            sys.stdout.flush()

    def _reply_done(self, event: events.Event) -> None:
        with self._lock:
            if self._streaming:
                sys.stdout.write("\n")
                sys.stdout.flush()
                self._streaming = False
            self._done.set()

    def _line(self, text: str) -> None:
        with self._lock:
            if self._streaming:  # a line in the middle of a reply goes below it
                sys.stdout.write("\n")
                self._streaming = False
            print(text, flush=True)

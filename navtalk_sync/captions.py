"""The conversation's lines with their times, for a recording's subtitles.

``Captions`` is fed the client's events on the dispatcher thread and hands each line on as
``cue(start, end, speaker, text)``, with ``time.monotonic()`` times:

- a spoken user turn, from the server's last ``speech_started`` before its ``speech_stopped``
  to that stop, with the server's transcript (or, without one, the two seconds before it);
- a typed one, at the moment it was sent;
- a reply, from its first sound to its last (from its first text to ``audio.done`` when its
  voice was not heard), with its text.

Everything but the speech's start comes from ``client.turn`` (``TurnReport``), which has the
turn's figures and the moment they count from; a turn is captioned once, however many replies
it has (a tool's follow-up reply shares its question's turn).
"""

from __future__ import annotations

import collections
import time
from typing import Callable

from .events import Event, SpeechStarted, TurnReport

__all__ = ["Captions", "CAPTIONED_EVENTS"]

#: The events ``Captions`` reads.
CAPTIONED_EVENTS = (SpeechStarted, TurnReport)
#: How long before its stop a spoken turn is shown when its start was not seen.
UNSEEN_START = 2.0
#: How long a typed turn is shown when nothing came after it.
TYPED_SECONDS = 2.0

Cue = Callable[[float, float, str, str], None]


class Captions:
    """Events in, cues out (see the module's notes). One dispatcher thread feeds it."""

    def __init__(self, cue: Cue) -> None:
        self._cue = cue
        # the last few speech starts: a barge-in's comes before the report of the turn it cut
        self._speech_starts: collections.deque[float] = collections.deque(maxlen=8)
        self._captioned_turn = 0

    def on_event(self, event: Event) -> None:
        if isinstance(event, SpeechStarted):
            self._speech_starts.append(time.monotonic())
        elif isinstance(event, TurnReport) and event.origin is not None:
            self._turn(event, event.origin)

    def _turn(self, report: TurnReport, origin: float) -> None:
        if report.turn != self._captioned_turn and report.heard:
            self._captioned_turn = report.turn
            self._user_line(report, origin)
        if report.reply:
            start = _first(report.first_voice, report.first_text, 0.0)
            end = _first(report.voice_ended, report.audio_done, start)
            self._cue(origin + start, origin + max(start, end), "avatar", report.reply)

    def _user_line(self, report: TurnReport, origin: float) -> None:
        assert report.heard is not None
        if report.speech_stopped is None:  # typed: sent at the origin
            end = _first(report.first_voice, report.first_text, TYPED_SECONDS)
            self._cue(origin, origin + end, "user", report.heard)
            return
        stopped = origin + report.speech_stopped
        before = [start for start in self._speech_starts if start <= stopped]
        started = before[-1] if before else stopped - UNSEEN_START
        self._cue(started, stopped, "user", report.heard)


def _first(*values: float | None) -> float:
    """The first of ``values`` that is known (the last one always is)."""
    return next(value for value in values if value is not None)

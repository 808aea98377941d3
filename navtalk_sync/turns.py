"""Turn timings: for each reply, the moments a person notices, counted from the end of the
user's turn.

``TurnClock`` is told when the user's turn ended (``user_turn_ended``: ``send_text``, ``ask``,
``talk``; or the server's ``speech_stopped`` for the microphone), watches the events of the
reply on the reader thread (``observe``, fed by ``ReplyTracker``, which decides when a reply
ends) and the avatar's voice and mouth on the rtc loop (``voice``, ``mouth``), and publishes
one ``TurnReport`` (``client.turn``) per reply, once its voice has ended (or at once, without
media). Every figure is seconds from the end of the user's turn; a
moment that was not seen is None, never a guess.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Callable

import attrs

from .events import (
    Event,
    InputTranscriptionCompleted,
    ResponseAudioDelta,
    ResponseAudioDone,
    ResponseTranscriptDelta,
    ResponseTranscriptDone,
    SpeechStopped,
    TurnReport,
)

__all__ = ["TurnClock", "RECENT_TURNS", "VOICE_WAIT"]

#: Reports kept for ``stats()["turns"]``.
RECENT_TURNS = 8
#: Seconds after a reply's ``audio.done`` its voice may take to start (on a hosted service the
#: voice plays for seconds after it); past that, the report goes out without voice figures.
VOICE_WAIT = 10.0

_FIRST_TEXT = (ResponseTranscriptDelta, ResponseTranscriptDone, ResponseAudioDelta)


@attrs.define
class _Reply:
    """What is known of the reply under way (its figures are seconds from ``origin``)."""

    turn: int
    origin: float
    heard: str | None = None
    speech_stopped: float | None = None
    transcript: float | None = None
    response_id: str | None = None
    first_text: float | None = None
    text: str | None = None
    first_voice: float | None = None
    mouth_moving: float | None = None
    audio_done: float | None = None
    voice_ended: float | None = None
    ended: bool = False  # audio.done, a tool call or an error came
    reported: bool = False


class TurnClock:
    """Times the replies of one client (see the module's notes). Thread-safe."""

    def __init__(
        self,
        publish: Callable[[Event], None],
        with_voice: bool,
        later: Callable[[float, Callable[[], None]], None] | None = None,
    ) -> None:
        """``with_voice``: the avatar's voice is received, so a report waits for its end;
        ``later(seconds, fn)`` runs ``fn`` after a delay (the rtc loop's timer)."""
        self._publish = publish
        self._with_voice = with_voice
        self._later = later
        self._lock = threading.Lock()
        self._origin: float | None = None  # the end of the user's last turn
        self._turn = 0  # the number of the user's last turn
        self._turn_open = False  # a turn ended by talk()/send_text() has no reply yet
        self._heard: str | None = None
        self._speech_stopped: float | None = None
        self._transcript: float | None = None
        self._reply: _Reply | None = None
        # the avatar's voice or mouth can start before the reply's first text arrives (the
        # media path is faster than the socket's): kept for the reply that comes
        self._awaiting = False  # a user's turn (typed, talk() or the microphone's) has no reply yet
        self._early_voice: float | None = None
        self._early_voice_end: float | None = None
        self._early_mouth: float | None = None
        self._recent: collections.deque[TurnReport] = collections.deque(maxlen=RECENT_TURNS)

    # ------------------------------------------------------------------ the user's side

    def user_turn_ended(self, heard: str | None = None) -> int:
        """The user's turn ended now: the next reply is timed from here. Returns the turn's
        number, which its replies' reports carry (``TurnReport.turn``)."""
        with self._lock:
            self._start_turn(time.monotonic(), heard)
            self._turn_open = True
            return self._turn

    def _start_turn(self, origin: float, heard: str | None) -> None:
        self._turn += 1
        self._origin = origin
        self._awaiting = True
        self._early_voice = self._early_voice_end = self._early_mouth = None
        self._heard, self._speech_stopped, self._transcript = heard, None, None

    # ------------------------------------------------------------------ the reader thread

    def observe(self, event: Event, text: str | None = None, ends_reply: bool = False) -> None:
        """Take one received event (reader thread). ``text``: the reply's whole text when this
        event finished it; ``ends_reply``: it ended the reply (both as ``ReplyTracker`` says)."""
        now = time.monotonic()
        report = None
        with self._lock:
            if isinstance(event, SpeechStopped):
                self._speech_stopped_at(now)
            elif isinstance(event, InputTranscriptionCompleted):
                self._heard = event.text or self._heard
                self._transcript = self._since_origin(now)
            elif isinstance(event, _FIRST_TEXT):
                report = self._reply_step(now, getattr(event, "response_id", None))
            if text is not None and self._reply is not None and self._reply.text is None:
                self._reply.text = text
            if ends_reply:
                report = self._reply_ended(now, isinstance(event, ResponseAudioDone))
        self._send(report)

    def _speech_stopped_at(self, now: float) -> None:
        if not self._turn_open:
            # the microphone's turn: the server's end of speech is where the clock starts
            self._start_turn(now, None)
        self._speech_stopped = self._since_origin(now)

    def _reply_step(self, now: float, response_id: str | None) -> TurnReport | None:
        """A piece of a reply; the report of the one before when this one is new."""
        reply, report = self._reply, None
        new_id = response_id is None or response_id != reply.response_id if reply else True
        if reply is None or (reply.ended and new_id):
            if reply is not None:
                report = self._report(reply)  # its voice, if any, has had its time
            reply = self._reply = self._new_reply(now)
        if reply.response_id is None:
            reply.response_id = response_id
        if reply.first_text is None:
            reply.first_text = now - reply.origin
        return report

    def _new_reply(self, now: float) -> _Reply:
        self._turn_open = False  # a speech_stopped from now on starts the microphone's turn
        origin = self._origin if self._origin is not None else now
        reply = _Reply(self._turn, origin, self._heard, self._speech_stopped, self._transcript)
        if self._early_voice is not None:
            reply.first_voice = self._early_voice - origin
        if self._early_voice_end is not None:
            reply.voice_ended = self._early_voice_end - origin  # a short reply, already heard
        if self._early_mouth is not None:
            reply.mouth_moving = self._early_mouth - origin
        self._awaiting = False
        self._early_voice = self._early_voice_end = self._early_mouth = None
        return reply

    def _awaiting_reply(self, at: float) -> bool:
        """(under the lock) A moment at ``at`` belongs to a reply whose text has not come yet:
        the user's turn has ended and no reply is open."""
        reply = self._reply
        waiting = reply is None or reply.reported
        return waiting and self._awaiting and self._origin is not None and at >= self._origin

    def _reply_ended(self, now: float, with_audio_done: bool) -> TurnReport | None:
        reply = self._reply
        if reply is None:
            reply = self._reply = self._new_reply(now)  # a reply with no text at all
        if with_audio_done and reply.audio_done is None:
            reply.audio_done = now - reply.origin
        reply.ended = True
        if not with_audio_done or not self._with_voice or reply.voice_ended is not None:
            return self._report(reply)  # a tool call or an error: no voice of its own
        if self._later is not None:  # a voice that never comes must not hold the report
            self._later(VOICE_WAIT, lambda: self._send(self._report_if_silent(reply)))
        return None

    # ------------------------------------------------------------------ the rtc loop

    def voice(self, speaking: bool, at: float) -> None:
        """The avatar's received voice started (``speaking``) or ended, at ``at``."""
        report = None
        with self._lock:
            if self._awaiting_reply(at):
                if speaking:
                    self._early_voice = self._early_voice or at
                elif self._early_voice is not None:
                    self._early_voice_end = at
                return
            reply = self._reply
            if reply is None:
                return
            if speaking and reply.first_voice is None:
                reply.first_voice = at - reply.origin
            elif not speaking and reply.first_voice is not None:
                reply.voice_ended = at - reply.origin
                if reply.ended:
                    report = self._report(reply)
        self._send(report)

    def mouth(self, moving: bool, at: float) -> None:
        """The avatar's mouth started (``moving``) or stopped moving in the picture, at ``at``."""
        with self._lock:
            if moving and self._awaiting_reply(at):
                self._early_mouth = self._early_mouth or at
                return
            reply = self._reply
            if moving and reply is not None and reply.mouth_moving is None and not reply.reported:
                reply.mouth_moving = at - reply.origin

    # ------------------------------------------------------------------ reports

    def _report_if_silent(self, reply: _Reply) -> TurnReport | None:
        """The report of a reply whose voice never started (one still playing waits for its
        end, or for the next reply)."""
        with self._lock:
            if reply.first_voice is not None and reply.voice_ended is None:
                return None
            return self._report(reply)

    def _report(self, reply: _Reply) -> TurnReport | None:
        """(under the lock) The reply's report, once."""
        if reply.reported:
            return None
        reply.reported = True
        report = TurnReport(
            turn=reply.turn,
            heard=reply.heard,
            reply=reply.text,
            response_id=reply.response_id,
            speech_stopped=_rounded(reply.speech_stopped),
            transcript=_rounded(reply.transcript),
            first_text=_rounded(reply.first_text),
            first_voice=_rounded(reply.first_voice),
            mouth_moving=_rounded(reply.mouth_moving),
            audio_done=_rounded(reply.audio_done),
            voice_ended=_rounded(reply.voice_ended),
            origin=reply.origin,
        )
        self._recent.append(report)
        return report

    def _send(self, report: TurnReport | None) -> None:
        if report is not None:
            self._publish(report)

    def _since_origin(self, now: float) -> float | None:
        return None if self._origin is None else now - self._origin

    def recent(self) -> list[TurnReport]:
        """The last ``RECENT_TURNS`` reports, oldest first."""
        with self._lock:
            return list(self._recent)

    def new_session(self) -> None:
        """A reply cut off by a lost session is not reported."""
        with self._lock:
            self._reply = None


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)

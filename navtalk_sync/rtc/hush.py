"""The rule for how long the speaker stays silent after ``client.interrupt()``.

The service cannot be told to stop a reply (the protocol has no message for it), so the reply
goes on arriving; the library's speaker plays none of it. The silence lasts until the reply that
was cut has ended (its ``audio.done``, a tool call or an error, as ``replies.ReplyEnds`` says)
and then its voice has stopped: quiet for ``QUIET_SECONDS`` (longer than the gap between two
sentences), or never heard within ``VOICE_WAIT`` of the end (a hosted reply's voice can come
seconds after its text; a tool call has none); or until the user's next turn, once the cut
reply has ended (what the user asks next is to be heard, however soon it comes).

Pure state behind a lock: the caller's thread starts a hush, the dispatcher says when replies
end, the rtc loop asks for every received chunk whether to play it.
"""

from __future__ import annotations

import threading

from ..turns import VOICE_WAIT

__all__ = ["Hush", "QUIET_SECONDS"]

#: How long the voice must stay below the speaking level before the speaker plays again.
QUIET_SECONDS = 1.0


class Hush:
    """Whether the speaker must stay silent (see the module's notes). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = False
        self._ended_at: float | None = None  # the cut reply ended (time.monotonic())
        self._voice_heard = False  # the voice was heard since the cut
        self._quiet_since: float | None = None

    @property
    def active(self) -> bool:
        return self._active

    def start(self, reply_open: bool, speaking: bool, now: float) -> None:
        """Cut now. ``reply_open``: the reply has not ended yet (or is still owed);
        ``speaking``: its voice is being heard."""
        with self._lock:
            self._active = True
            self._ended_at = None if reply_open else now
            self._voice_heard = speaking
            self._quiet_since = None if speaking else now

    def reply_ended(self, now: float) -> None:
        """A reply ended (the cut one, or one after it)."""
        with self._lock:
            if self._active and self._ended_at is None:
                self._ended_at = now

    def user_turn(self) -> None:
        """The user's turn ended (text sent, speech stopped): its reply is to be heard."""
        with self._lock:
            if self._ended_at is not None:
                self._active = False

    def silent(self, speaking: bool, now: float) -> bool:
        """For a received chunk of voice: must it be kept from the speaker?"""
        with self._lock:
            if not self._active:
                return False
            if speaking:
                self._voice_heard, self._quiet_since = True, None
            elif self._quiet_since is None:
                self._quiet_since = now
            ended = self._ended_at
            if ended is not None:
                quiet = self._quiet_since is not None and now - self._quiet_since >= QUIET_SECONDS
                unheard = not self._voice_heard and now - ended >= VOICE_WAIT
                if (self._voice_heard and quiet) or unheard:
                    self._active = False
            return self._active

    def clear(self) -> None:
        """A new session: nothing of the last one is cut."""
        with self._lock:
            self._active = False

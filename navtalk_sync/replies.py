"""Putting one reply's text together from its events, for ``ask()`` (pure: no I/O, no threads)."""

from __future__ import annotations

from .errors import ResponseFailed
from .events import (
    Event,
    ResponseAudioDone,
    ResponseFailure,
    ResponseTranscriptDelta,
    ResponseTranscriptDone,
)
from .redaction import redact

__all__ = ["ReplyCollector"]


class ReplyCollector:
    """Puts one reply's text together from its transcript events (protocol 5.2, #17-#18).

    ``skip`` replies that were asked for before (and have not ended) are let pass first: each
    ends with ``audio.done`` (or an error), so the reply wanted is the one after them.
    """

    def __init__(self, skip: int) -> None:
        self.skip = skip
        self.response_id: str | None = None
        self.parts: list[str] = []
        self.started = False

    def add(self, event: Event) -> str | None:
        """Feed an event; returns the reply text once it is complete."""
        ends_reply = isinstance(event, (ResponseAudioDone, ResponseFailure))
        if self.skip:
            self.skip -= 1 if ends_reply else 0
            return None
        if isinstance(event, ResponseFailure):
            raise ResponseFailed(event.message or "the server reported a failed reply", event)
        response_id = getattr(event, "response_id", None)
        if isinstance(event, ResponseAudioDone):
            # a server that sends no transcript.done ends the reply here
            if self.started and response_id in (None, self.response_id):
                return self.joined()
            return None
        if not self.started:
            self.started, self.response_id = True, response_id
        elif response_id is not None and response_id != self.response_id:
            return None
        if isinstance(event, ResponseTranscriptDelta):
            self.parts.append(event.text)
            return None
        if isinstance(event, ResponseTranscriptDone):
            return event.text if event.text is not None else self.joined()
        return None

    def joined(self) -> str:
        """The pieces as one text, redacted again: a secret split across two pieces was
        hidden in neither."""
        return redact("".join(self.parts))

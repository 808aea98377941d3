"""``Expectation``: the first event of a kind from a chosen moment on, so that a script can wait
for the result of an action without missing it.

``client.expect(what)`` starts listening at once; the action goes inside its ``with`` block and
``result(timeout)`` comes after it::

    with client.expect("conversation.item.input_audio_transcription.completed") as heard:
        client.send_file("question.wav")
    event = heard.result(timeout=30)

An event that arrives while the action is still running (before ``result()`` is called) is
kept, not missed. ``wait_for()`` is ``expect()`` and ``result()`` at once.
"""

from __future__ import annotations

from typing import Any, Callable

from .dispatch import Subscription
from .errors import NavTalkTimeout
from .events import Event
from .timeouts import Deadline, check_seconds

__all__ = ["Expectation"]

#: Events an expectation keeps while nobody reads them (a full one raises
#: ``SubscriptionOverflow`` from ``result()``, never loses one silently).
KEPT_EVENTS = 10_000


class Expectation:
    """The first event matching a selector (and a predicate) since it was made."""

    def __init__(
        self,
        subscription: Subscription,
        description: str,
        predicate: Callable[[Event], bool] | None = None,
    ) -> None:
        self._subscription = subscription
        self._description = description
        self._predicate = predicate
        self._event: Event | None = None

    def result(self, timeout: float) -> Event:
        """The first matching event (the same one on every call), waiting up to ``timeout``
        seconds for it. Raises ``NavTalkTimeout``, or the error that ended the session, as
        ``wait_for()`` does. The predicate runs in the calling thread."""
        seconds = check_seconds(timeout)
        if self._event is not None:
            return self._event
        try:
            event = self._first_match(Deadline(seconds))
        except NavTalkTimeout:
            raise NavTalkTimeout(self._description, seconds) from None  # still listening
        except BaseException:
            self.close()  # the session ended or the predicate raised: no result to come
            raise
        self._event = event
        self.close()  # found: nothing more to keep
        return event

    def _first_match(self, deadline: Deadline) -> Event:
        while True:
            event = self._subscription.get(deadline.remaining())
            if self._predicate is None or self._predicate(event):
                return event

    def close(self) -> None:
        """Stop listening (``result()`` then returns only an event already found)."""
        self._subscription.close()

    def __enter__(self) -> Expectation:
        return self

    def __exit__(self, kind: type[BaseException] | None, *rest: Any) -> None:
        if kind is not None:  # the action failed: nothing will be waited for
            self.close()

    def __repr__(self) -> str:
        found = f" found={self._event.type!r}" if self._event is not None else ""
        return f"<Expectation {self._description!r}{found}>"

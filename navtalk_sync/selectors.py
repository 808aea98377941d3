"""Event selectors: what ``on()``, ``wait_for()`` and ``events()`` accept, checked once.

A selector is ``"*"``, a wire name (legacy names are mapped to v2), a ``client.`` name, or an
``Event`` class (subclasses match too).
"""

from __future__ import annotations

import warnings
from typing import Any, Iterable

from .errors import InvalidArgument
from .events import CLIENT_EVENT_TYPES, EVENT_TYPES, Event, canonical_type

__all__ = ["describe_selector", "event_matcher", "event_matchers"]

_ACCEPTED = "select events with '*', an event type name or an Event class"


def event_matcher(what: str | type[Event]) -> str | type[Event]:
    """Validate an event selector: ``"*"``, a wire or ``client.`` name, or an Event class."""
    if isinstance(what, type) and issubclass(what, Event):
        return what
    if not isinstance(what, str) or not what:
        raise InvalidArgument(f"{_ACCEPTED}, got {what!r}")
    if what == "*":
        return what
    name = canonical_type(what)
    if name.startswith("client."):
        if name not in CLIENT_EVENT_TYPES:
            known = ", ".join(sorted(CLIENT_EVENT_TYPES))
            raise InvalidArgument(f"unknown client event {name!r}; known: {known}")
    elif name not in EVENT_TYPES:
        warnings.warn(
            f"{name!r} is not a known NavTalk event type; only frames of exactly that type match",
            stacklevel=3,
        )
    return name


def event_matchers(what: str | type[Event] | Iterable[str | type[Event]]) -> tuple[Any, ...]:
    """One selector, or a non-empty list or tuple of them."""
    if isinstance(what, (str, type)):
        return (event_matcher(what),)
    if not isinstance(what, (list, tuple, set, frozenset)) or not what:
        raise InvalidArgument(f"{_ACCEPTED}, or a non-empty list of those, got {what!r}")
    return tuple(event_matcher(w) for w in what)


def describe_selector(what: Any) -> str:
    """A selector as words, for timeout messages."""
    if isinstance(what, type):
        return what.__name__
    if isinstance(what, str):
        return what
    return " or ".join(describe_selector(w) for w in what)

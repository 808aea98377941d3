"""How long the local server takes, modelled on a hosted GPU avatar (protocol.md#hosted-service).

``Latency.FAST`` (the default, and what most tests use) answers as fast as it can: setup in
about 0.1 s and a reply's text, ``.done`` and ``audio.done`` within a few milliseconds, while
its voice then plays for seconds. ``Latency.REALISTIC`` (``LocalServer(latency="realistic")``,
what the demo uses) keeps the time a hosted service takes, so that apps that race their own
start against the server, or read the reply's events as its voice, behave as they will there.

What is known and what is assumed (no timings of the hosted service are published):

- ``setup``: the socket's opening to ``realtime.session.updated``. A hosted avatar starts a GPU
  renderer first; the official apps show a "connecting" state for a second or two. Assumed
  1.5 s.
- ``first_text``: a request (``response.create``, or the end of the user's speech) to the
  reply's first text. A realtime model answers in well under a second. Assumed 0.7 s,
  counting the time the voice takes to make.
- ``generation``: how many times faster than real time a reply is generated. A streaming
  service sends the text pieces as they are made and ``audio.done`` when generation ends, not
  when the voice has played. Assumed 3 times real time: a 6 s answer's pieces are spread over
  2 s, and ``audio.done`` comes 2 s after the first.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

__all__ = ["Latency", "latency_named"]


def _seconds(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 60:
        raise ValueError(f"{attribute.name} must be seconds from 0 to 60, got {value!r}")


def _speed(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.1 <= value <= 1000:
        raise ValueError(f"{attribute.name} must be None or from 0.1 to 1000, got {value!r}")


@attrs.frozen(kw_only=True)
class Latency:
    """The server's timing (see the module's notes for what each figure models)."""

    FAST: ClassVar[Latency]
    REALISTIC: ClassVar[Latency]

    #: seconds added before ``realtime.session.updated``
    setup: float = attrs.field(default=0.0, validator=_seconds)
    #: seconds from a request to the reply's first text (the voice's making counts in it)
    first_text: float = attrs.field(default=0.0, validator=_seconds)
    #: times faster than real time a reply is generated; None: all of it at once
    generation: float | None = attrs.field(default=None, validator=_speed)

    def spread(self, voice_seconds: float, pieces: int) -> float:
        """Seconds between a reply's text pieces: the generation time over the pieces."""
        if self.generation is None or pieces < 2:
            return 0.0
        return voice_seconds / self.generation / (pieces - 1)


Latency.FAST = Latency()
Latency.REALISTIC = Latency(setup=1.5, first_text=0.7, generation=3.0)

_NAMED = {"fast": Latency.FAST, "realistic": Latency.REALISTIC}


def latency_named(value: str | Latency) -> Latency:
    """``"fast"``, ``"realistic"`` or a ``Latency``."""
    if isinstance(value, Latency):
        return value
    if isinstance(value, str) and value in _NAMED:
        return _NAMED[value]
    raise ValueError(f"latency must be 'fast', 'realistic' or a Latency, got {value!r}")

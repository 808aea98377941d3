"""Stamped events, for measuring how long an event takes to reach the client's code.

``stream_stamped_deltas`` sends reply-text deltas (``realtime.response.audio_transcript.delta``,
reply id ``STAMP_RESPONSE_ID``) at a steady rate; each delta's text is the server's
``time.monotonic_ns()`` taken just before the frame is written. On Linux that clock is one
clock for every process of the machine, so a client on the same machine subtracts it from its
own ``time.monotonic_ns()`` when the event reaches it: the latency of the whole path (socket,
parsing, threads, callback), without clock skew.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Awaitable, Callable, Sequence

from .. import events

__all__ = ["STAMP_RESPONSE_ID", "check_stream", "stamp_latency", "stream_stamped_deltas"]

#: The reply id every stamped delta carries.
STAMP_RESPONSE_ID = "navtalk-stamp"

# Built once: only the stamp is formatted in between taking it and writing the frame.
_TEMPLATE = json.dumps(
    {
        "type": events.ResponseTranscriptDelta.TYPE,
        "data": {"content": "%d", "id": STAMP_RESPONSE_ID},
    },
    separators=(",", ":"),
)

Send = Callable[[str], Awaitable[None]]


async def stream_stamped_deltas(sends: Sequence[Send], rate: float, count: int) -> int:
    """Send ``count`` stamped deltas to each of ``sends`` at ``rate`` a second; returns how
    many frames were written in all. Pacing is against a fixed schedule (no drift): when the
    loop wakes late it catches up with the frames that are due, as a busy server would."""
    check_stream(rate, count)
    interval = 1.0 / rate
    started = time.monotonic()
    written = 0
    for index in range(count):
        delay = started + index * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        for send in sends:
            await send(_TEMPLATE % time.monotonic_ns())
            written += 1
    return written


def check_stream(rate: float, count: int) -> None:
    """Raise ``ValueError`` unless ``rate`` is positive and ``count`` is not negative (call it
    before working out a budget from ``count / rate``)."""
    if not rate > 0 or count < 0:  # `not >` also refuses NaN
        raise ValueError(f"rate must be positive and count not negative, not {rate}, {count}")


def stamp_latency(text: str, now_ns: int | None = None) -> float:
    """Seconds since the server stamped ``text`` (a stamped delta's text)."""
    now = time.monotonic_ns() if now_ns is None else now_ns
    return (now - int(text)) / 1e9

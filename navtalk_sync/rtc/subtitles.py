"""The conversation's text as subtitles: cues, WebVTT, and the payloads of a file's text track.

Pure: no I/O, no threads. ``Cue`` is one line of the conversation on the recording's clock;
``webvtt()`` writes cues as a WebVTT document (each one's speaker as a ``<v>`` voice span);
``track_cues()`` makes them fit a text track, where cues follow one another; ``mov_text()``
is one cue's payload in an ``.mp4`` text track (3GPP timed text).
"""

from __future__ import annotations

import struct
from typing import Iterable

import attrs

__all__ = ["Cue", "ASS_HEADER", "mov_text", "track_cues", "webvtt"]

#: The ASS header FFmpeg's text encoders want before they open (its styles are not used).
ASS_HEADER = b"[Script Info]\nScriptType: v4.00+\n"
#: The shortest cue shown: a transcript of one word still stays on screen long enough to read.
MIN_CUE_SECONDS = 1.0


@attrs.frozen
class Cue:
    """``text`` said by ``speaker`` ("user" or "avatar") from ``start`` to ``end`` seconds."""

    start: float
    end: float
    speaker: str
    text: str

    def shown(self) -> Cue:
        """This cue as shown: starting at 0 at the earliest, lasting ``MIN_CUE_SECONDS`` at
        least."""
        start = max(0.0, self.start)
        return attrs.evolve(self, start=start, end=max(self.end, start + MIN_CUE_SECONDS))


def _timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"


def _escaped(text: str) -> str:
    # WebVTT cue text: & and < start markup; a blank line or "-->" would end or split the cue
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.split())


def webvtt(cues: Iterable[Cue]) -> str:
    """A WebVTT document of ``cues`` (in time order; overlapping cues are kept)."""
    lines = ["WEBVTT", ""]
    for cue in sorted((cue.shown() for cue in cues), key=lambda cue: cue.start):
        lines.append(f"{_timestamp(cue.start)} --> {_timestamp(cue.end)}")
        lines.append(f"<v {_escaped(cue.speaker)}>{_escaped(cue.text)}")
        lines.append("")
    return "\n".join(lines)


def track_cues(cues: Iterable[Cue]) -> list[Cue]:
    """``cues`` for a text track: in time order, one at a time (a cue that starts with or
    inside another starts a millisecond after that one's start, and each ends where the next
    begins), with the speaker's name before the text."""
    ordered = sorted((cue.shown() for cue in cues), key=lambda cue: cue.start)
    starts: list[float] = []
    for cue in ordered:
        starts.append(max(cue.start, starts[-1] + 0.001) if starts else cue.start)
    fitted: list[Cue] = []
    for index, (cue, start) in enumerate(zip(ordered, starts, strict=True)):
        end = max(cue.end, start + 0.001)
        if index + 1 < len(starts):
            end = min(end, starts[index + 1])
        fitted.append(Cue(start, end, cue.speaker, f"{cue.speaker}: {cue.text}"))
    return fitted


def mov_text(text: str) -> bytes:
    """One cue's payload in an ``.mp4`` text track: its UTF-8 length, then the text."""
    data = text.encode("utf-8")[:65535].decode("utf-8", "ignore").encode("utf-8")
    return struct.pack(">H", len(data)) + data

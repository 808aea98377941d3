"""Whether the avatar's mouth is moving, from the motion in the mouth's part of the picture.

A lip-synced avatar's mouth is the one part of the picture that moves much more while it
speaks than at rest. ``MouthWatch`` measures, for each received frame, the mean change of
brightness inside ``region`` since the previous frame, keeps a rest level (the median of that
motion over the last frames while it was not moving: codec noise, breathing, an idle loop; the
median, so that a video's first frames, sharpening as the encoder settles, and its periodic
key frames do not raise it) and says the mouth started moving at the first frame whose motion
is well above both the rest level and a floor. It ends after ``hangover`` seconds back at rest.

This is a measurement of the region, not face tracking: the region must hold the mouth (the
``mouth_region`` setting) and a head that moves a lot inside it moves the figure too. Pure: feed it
brightness planes, it says when the answer changes.
"""

from __future__ import annotations

import collections

import av
import numpy as np

__all__ = ["MouthWatch", "brightness"]

#: Frames the rest level looks back over (2 s at 25 fps).
REST_FRAMES = 50
#: Motion must be this many times the rest level...
ABOVE_REST = 3.0
#: ...and at least this many grey levels (of 255), so a still picture's codec noise never counts.
FLOOR = 2.0


def brightness(frame: av.VideoFrame) -> np.ndarray:
    """The frame's brightness (luma) plane as a 2-D uint8 view, without converting colours."""
    if frame.format.name not in ("yuv420p", "yuvj420p", "nv12", "yuv422p", "yuv444p"):
        frame = frame.reformat(format="yuv420p")
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


class MouthWatch:
    """Says when the mouth in ``region`` starts and stops moving (see the module's notes)."""

    def __init__(
        self,
        region: tuple[float, float, float, float],
        hangover: float = 0.5,
    ) -> None:
        """``region``: (x0, y0, x1, y1) as fractions of the picture's width and height."""
        self.region = region
        self.hangover = hangover
        self.moving = False
        self._previous: np.ndarray | None = None
        self._rest: collections.deque[float] = collections.deque(maxlen=REST_FRAMES)
        self._still_since: float | None = None

    def feed(self, luma: np.ndarray, at: float) -> bool | None:
        """Take one frame's brightness plane, received at ``at`` (seconds); the new state when
        this frame changes it, else None."""
        part = self._part(luma)
        previous, self._previous = self._previous, part
        if previous is None or previous.shape != part.shape:
            return None
        motion = float(np.mean(np.abs(part - previous)))
        if motion > self._threshold():
            self._still_since = None
            if not self.moving:
                self.moving = True
                return True
            return None
        if not self.moving:
            self._rest.append(motion)
            return None
        if self._still_since is None:
            self._still_since = at
        if at - self._still_since >= self.hangover:
            self.moving = False
            return False
        return None

    def _part(self, luma: np.ndarray) -> np.ndarray:
        """The region, every other pixel each way (the mouth is large; the cost is a quarter)."""
        height, width = luma.shape
        x0, y0, x1, y1 = self.region
        part = luma[int(y0 * height) : int(y1 * height) : 2, int(x0 * width) : int(x1 * width) : 2]
        return part.astype(np.int16)

    def _threshold(self) -> float:
        if len(self._rest) < 5:
            return float("inf")  # no rest level yet: nothing counts as moving
        rest = float(np.median(np.fromiter(self._rest, float)))
        return max(FLOOR, ABOVE_REST * rest)

"""The avatar's picture, from the rtc loop to the user's code: latest frame wins.

The rtc loop puts every decoded frame into a one-frame slot and never waits. The
``navtalk-video`` thread takes the newest frame, converts it to an RGB numpy array and calls the
``on_video_frame`` callbacks. A frame replaced in the slot before the thread took it is stale:
it is dropped and counted (``video_frames_dropped``). A slow consumer therefore sees fewer
frames, never older ones, and holds no more than one waiting frame in memory.
"""

from __future__ import annotations

import collections
import os
import threading
import time
from typing import Any

import attrs
import av
import numpy as np

from ..errors import InvalidArgument, NavTalkTimeout
from ..logs import get_logger
from ..paths import check_new_file
from .feed import CallbackThread

__all__ = ["VideoFrame", "VideoFeed"]

log = get_logger(__name__)

#: RTP timestamps are 32-bit counters.
_RTP_WRAP = 1 << 32
#: How far back the frame rate in ``stats()`` looks.
RATE_WINDOW = 2.0


@attrs.frozen(repr=False)
class VideoFrame:
    """One picture of the avatar.

    - ``image``: ``(height, width, 3)`` uint8 RGB array.
    - ``timestamp``: media time in seconds since the stream's first frame (from RTP).
    - ``received_at``: ``time.monotonic()`` when the frame was decoded.
    - ``index``: the frame's number in the stream (0 = first decoded frame); gaps mean frames
      were dropped for a slow consumer.
    """

    image: np.ndarray
    timestamp: float
    received_at: float
    index: int

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(frame)`` is the picture, so a frame goes straight into numpy, OpenCV
        (``cv2.cvtColor(np.asarray(frame), cv2.COLOR_RGB2BGR)``) and PIL
        (``Image.fromarray(np.asarray(frame))``)."""
        if dtype is None or np.dtype(dtype) == self.image.dtype:
            return self.image.copy() if copy else self.image
        return self.image.astype(dtype)

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the picture as a PNG file; ``InvalidArgument`` when it cannot be written."""
        target = check_new_file(path, "path", (".png",))
        try:
            with av.open(target, "w", format="image2") as out:
                stream = out.add_stream("png")
                stream.width, stream.height, stream.pix_fmt = self.width, self.height, "rgb24"
                image = np.ascontiguousarray(self.image)
                picture = av.VideoFrame.from_ndarray(image, format="rgb24")
                for packet in (*stream.encode(picture), *stream.encode()):
                    out.mux(packet)
        except (OSError, av.FFmpegError) as exc:
            raise InvalidArgument(f"cannot write the picture to {target!r}: {exc}") from None

    def __repr__(self) -> str:
        return f"<VideoFrame #{self.index} {self.width}x{self.height} t={self.timestamp:.3f}s>"


class _Decoded:
    """A received frame whose RGB conversion happens once, on whichever thread needs it."""

    def __init__(self, frame: av.VideoFrame, timestamp: float, index: int) -> None:
        self._frame: av.VideoFrame | None = frame
        self._lock = threading.Lock()
        self._converted: VideoFrame | None = None
        self.timestamp = timestamp
        self.received_at = time.monotonic()
        self.index = index
        self.size = (frame.width, frame.height)

    def convert(self) -> VideoFrame:
        with self._lock:
            if self._converted is None:
                assert self._frame is not None
                image = self._frame.to_ndarray(format="rgb24")
                self._converted = VideoFrame(image, self.timestamp, self.received_at, self.index)
                self._frame = None  # the decoded picture is no longer needed
            return self._converted


class VideoFeed(CallbackThread[_Decoded, VideoFrame]):
    """The one-frame slot, the ``navtalk-video`` thread and its callbacks."""

    def __init__(self, thread_name: str = "navtalk-video") -> None:
        super().__init__(thread_name)
        self._pending: _Decoded | None = None
        self._latest: _Decoded | None = None
        self._first_pts: int | None = None
        self._last_pts = 0
        self._unwrapped = 0
        self._arrivals: collections.deque[float] = collections.deque(maxlen=256)
        self.received = 0
        self.dropped = 0

    # ------------------------------------------------------------------ rtc loop side

    def push(self, frame: av.VideoFrame) -> None:
        """A decoded frame from the rtc loop; never blocks."""
        decoded = _Decoded(frame, self._media_time(frame), self.received)
        with self._cond:
            self.received += 1
            self._arrivals.append(decoded.received_at)
            first = self._latest is None
            self._latest = decoded
            if self._callbacks:
                if self._pending is not None:
                    self.dropped += 1  # the consumer did not take the previous frame in time
                self._pending = decoded
            # Without callbacks only wait_first() needs waking: waking the thread for every
            # frame made it contend with the rtc loop for the GIL 25 times a second for nothing.
            if self._callbacks or first:
                self._cond.notify_all()

    def _media_time(self, frame: av.VideoFrame) -> float:
        """Seconds since the first frame, from RTP timestamps (32 bits: unwrapped)."""
        if frame.pts is None or frame.time_base is None:
            return 0.0
        if self._first_pts is None:
            self._first_pts = self._last_pts = frame.pts
        step = (frame.pts - self._last_pts) % _RTP_WRAP
        if step >= _RTP_WRAP // 2:
            step -= _RTP_WRAP  # a frame slightly older than the previous one
        self._unwrapped += step
        self._last_pts = frame.pts
        return float(self._unwrapped * frame.time_base)

    # ------------------------------------------------------------------ the navtalk-video thread

    def _ready(self) -> bool:
        return self._pending is not None

    def _take(self) -> _Decoded:
        decoded, self._pending = self._pending, None
        assert decoded is not None
        return decoded

    def _prepare(self, item: _Decoded) -> VideoFrame:
        return item.convert()  # only frames a callback gets are converted

    # ------------------------------------------------------------------ user side

    def latest(self) -> VideoFrame | None:
        """The newest frame received, or None before the first."""
        with self._cond:
            latest = self._latest
        return latest.convert() if latest is not None else None

    def wait_first(self, timeout: float) -> VideoFrame:
        """Block until a frame has arrived (at once if one has); ``NavTalkTimeout`` otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._latest is not None or self._stopping, timeout):
                raise NavTalkTimeout("the first video frame", timeout)
            latest = self._latest
        if latest is None:
            raise NavTalkTimeout("the first video frame", timeout, "the media was closed")
        return latest.convert()

    def last_arrival(self) -> float | None:
        with self._cond:
            return self._latest.received_at if self._latest else None

    def stats(self) -> dict[str, object]:
        with self._cond:
            latest, arrivals = self._latest, list(self._arrivals)
        now = time.monotonic()
        recent = [t for t in arrivals if now - t <= RATE_WINDOW]
        rate = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 2 else 0.0
        return {
            "video_frames_received": self.received,
            "video_frames_delivered": self.delivered,
            "video_frames_dropped": self.dropped,
            "video_frame_size": latest.size if latest else None,
            "video_frame_rate": round(rate, 1),
            "video_last_frame_age": round(now - latest.received_at, 3) if latest else None,
        }

"""Images for the avatar to see (protocol.md#images): conversion and a periodic sender.

``to_data_url()`` turns a file path, JPEG/PNG bytes or a numpy RGB array into the
``data:image/jpeg;base64,...`` URL of ``realtime.input_image``: decoded and re-encoded with
PyAV, at most 720 px on the long side, JPEG quality about 70 (what the official clients send).
Bad input raises ``InvalidArgument`` before anything is sent.

``ImageFeed`` sends a frame from a callable (a camera, a screen grabber) every ``interval``
seconds, at least 2 s apart, on its own ``navtalk-image`` thread. It holds no queue: one frame
is taken, converted and handed to the socket per period; a frame the socket cannot take at
once (full send queue, session not ready) is skipped and counted, never waited for.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from fractions import Fraction
from typing import Any, Callable, Mapping

import av
import numpy as np

from . import messages, user_code
from .errors import InvalidArgument, NavTalkError
from .logs import RepeatLimiter, get_logger
from .paths import check_path, read_regular_file
from .threads import LibraryThread
from .timeouts import check_seconds

__all__ = [
    "MAX_SIDE",
    "MAX_INPUT_BYTES",
    "MAX_INPUT_PIXELS",
    "MIN_INTERVAL",
    "ImageFeed",
    "to_jpeg",
    "to_data_url",
]

log = get_logger(__name__)

#: The long side of a sent image, in pixels (the Flutter sample's limit, protocol.md#images).
MAX_SIDE = 720
#: Input files or bytes larger than this are refused (a camera JPEG is far smaller).
MAX_INPUT_BYTES = 40 * 1024 * 1024
#: Input images with more pixels than this are refused (16384 x 16384 would be 256 M).
MAX_INPUT_PIXELS = 100_000_000
#: The shortest period of the periodic sender, in seconds (protocol.md#images: at most one
#: per 2 s).
MIN_INTERVAL = 2.0
#: FFmpeg's MJPEG scale: 2 is the best; 5 is about libjpeg's quality 70.
_JPEG_QSCALE = 5
_MAGIC_FORMATS = ((b"\xff\xd8\xff", "jpeg_pipe"), (b"\x89PNG\r\n\x1a\n", "png_pipe"))

ImageInput = Any  # str | os.PathLike | bytes | bytearray | memoryview | numpy.ndarray


# --------------------------------------------------------------------------- conversion


def to_data_url(image: ImageInput) -> str:
    """An image as a ``data:image/jpeg;base64,...`` URL (see ``to_jpeg``)."""
    return "data:image/jpeg;base64," + base64.b64encode(to_jpeg(image)).decode("ascii")


def to_jpeg(image: ImageInput) -> bytes:
    """An image as JPEG bytes, scaled to at most ``MAX_SIDE`` px on its long side.

    ``image``: a path to a JPEG or PNG file, the bytes of one, or a numpy ``uint8`` array
    shaped ``(height, width, 3)`` in RGB order. Raises ``InvalidArgument`` for anything else:
    a missing file, bytes that are not a JPEG or PNG, a damaged image, a wrong shape or dtype,
    an image larger than ``MAX_INPUT_BYTES`` or ``MAX_INPUT_PIXELS``.
    """
    if isinstance(image, np.ndarray):
        frame = _frame_from_array(image)
    elif isinstance(image, (bytes, bytearray, memoryview)):
        frame = _frame_from_bytes(bytes(image), "the image bytes")
    elif isinstance(image, (str, os.PathLike)):
        frame = _frame_from_bytes(_read_file(image), f"the file {check_path(image)!r}")
    else:
        raise InvalidArgument(
            "an image is a file path, JPEG/PNG bytes or a numpy RGB array, "
            f"not {type(image).__name__}"
        )
    return _encode(frame)


def _read_file(path: str | os.PathLike[str]) -> bytes:
    name = check_path(path)
    try:
        return read_regular_file(name, MAX_INPUT_BYTES, "image file")
    except OSError as exc:
        raise InvalidArgument(f"cannot read the image file {name!r}: {exc}") from None


def _frame_from_array(array: np.ndarray) -> av.VideoFrame:
    if array.ndim != 3 or array.shape[2] != 3:
        raise InvalidArgument(
            f"an image array must be shaped (height, width, 3) in RGB order, got {array.shape}"
        )
    if array.dtype != np.uint8:
        raise InvalidArgument(f"an image array must be uint8 (0-255), got {array.dtype}")
    height, width = array.shape[:2]
    _check_pixels(width, height)
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")


def _frame_from_bytes(data: bytes, what: str) -> av.VideoFrame:
    if len(data) > MAX_INPUT_BYTES:
        raise InvalidArgument(f"{what} are too large ({len(data)} bytes)")
    container_format = next((fmt for magic, fmt in _MAGIC_FORMATS if data.startswith(magic)), None)
    if container_format is None:
        raise InvalidArgument(f"{what} are not a JPEG or PNG image")
    try:
        with av.open(io.BytesIO(data), format=container_format) as container:
            stream = container.streams.video[0]
            width, height = stream.codec_context.width, stream.codec_context.height
            if width * height > MAX_INPUT_PIXELS:  # refused before it is decoded
                _check_pixels(width, height)
            frame = next(container.decode(stream), None)
    except InvalidArgument:
        raise
    except (av.FFmpegError, IndexError, ValueError) as exc:
        raise InvalidArgument(f"{what} are not a readable image: {exc}") from None
    if frame is None or not frame.width or not frame.height:
        raise InvalidArgument(f"{what} are not a readable image (no picture in them)")
    assert isinstance(frame, av.VideoFrame)
    return frame


def _check_pixels(width: int, height: int) -> None:
    if width * height > MAX_INPUT_PIXELS:
        raise InvalidArgument(f"the image is too large ({width}x{height} pixels)")
    if width < 1 or height < 1:
        raise InvalidArgument(f"the image is empty ({width}x{height} pixels)")


def scaled_size(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """The size keeping the aspect ratio with the long side at most ``max_side``."""
    scale = min(1.0, max_side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _encode(frame: av.VideoFrame) -> bytes:
    width, height = scaled_size(frame.width, frame.height)
    # Full-range YUV, as JPEG files use; AREA keeps detail when shrinking a lot.
    picture = frame.reformat(width, height, format="yuvj420p", interpolation="AREA")
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = width, height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 1)
    encoder.qmin = encoder.qmax = _JPEG_QSCALE  # a fixed quality
    packets = encoder.encode(picture) + encoder.encode(None)
    return b"".join(bytes(packet) for packet in packets)


# --------------------------------------------------------------------------- periodic sender


class ImageFeed:
    """Sends ``source()``'s image every ``interval`` seconds on the ``navtalk-image`` thread.

    ``source`` returns an image (any type ``to_jpeg`` takes) or None to skip a period. Frames
    go with ``reply: 0``. A raising source (whatever it raises: it is reported to ``on_error``),
    a bad image, a session that is not ready or a socket that cannot take the frame at once
    skips that period (counted in ``stats()``, logged). The feed runs until ``stop()`` (the
    client's ``close()`` stops it).
    """

    def __init__(
        self,
        source: Callable[[], ImageInput | None],
        send: Callable[[Mapping[str, Any], float], None],
        interval: float = MIN_INTERVAL,
        on_error: Callable[[Callable[..., Any], BaseException], None] = lambda fn, exc: None,
    ) -> None:
        if not callable(source):
            raise InvalidArgument(f"the image source must be callable, got {source!r}")
        seconds = check_seconds(interval, "interval")
        if seconds < MIN_INTERVAL:
            raise InvalidArgument(f"interval must be at least {MIN_INTERVAL} s, got {interval}")
        self._source = source
        self._send = send
        self._on_error = on_error
        self._skips = RepeatLimiter(log)
        self._interval = seconds
        self._stopping = threading.Event()
        self._thread = LibraryThread(target=self._run, name="navtalk-image")
        self.sent = 0
        self.skipped = 0

    def start(self) -> ImageFeed:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float) -> None:
        """Stop and join the thread (a source call under way is waited for up to ``timeout``)."""
        self._stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the image source did not return within %.1f s", timeout)

    def stats(self) -> dict[str, int]:
        return {"images_sent": self.sent, "images_skipped": self.skipped}

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self._send_one()
            except Exception:  # a bug, not the source: say so, keep the feed going
                self.skipped += 1
                log.exception("image feed: sending a frame failed")
            self._stopping.wait(self._interval)

    def _send_one(self) -> None:
        image = user_code.run(self._source)
        if isinstance(image, user_code.Failure):
            self.skipped += 1
            user_code.report(log, "image source", self._source, image)
            self._on_error(self._source, image.error)
            return
        if image is None:
            return
        try:
            message = messages.input_image(to_data_url(image), reply=False)
        except InvalidArgument as exc:
            self.skipped += 1
            self._skips.warning("image feed: skipped a frame the source gave: %s", exc)
            return
        try:
            # no waiting: a frame that cannot go now is stale by the next period anyway
            self._send(message, 0.001)
            self.sent += 1
        except NavTalkError as exc:  # not ready yet, ended, or a full send queue
            self.skipped += 1
            log.debug("image feed: skipped a frame: %s", exc)

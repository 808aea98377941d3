"""Reading audio files with PyAV (WAV, MP3, OGG, FLAC, M4A... whatever FFmpeg decodes).

``open_audio_file()`` checks the file up front, so a missing or unsupported file is refused
with ``InvalidArgument`` before any of it is sent; ``AudioFile.blocks()`` then yields its
first audio stream as float32 ``(frames, channels)`` arrays at the file's own rate.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import av
import numpy as np

from ..errors import InvalidArgument

__all__ = ["AudioFile", "open_audio_file"]


class AudioFile:
    """An opened audio file: ``sample_rate``, ``channels``, and its decoded ``blocks()``."""

    def __init__(self, path: str, container: Any, stream: Any) -> None:
        self.path = path
        self._container = container
        self._stream = stream
        self.sample_rate: int = stream.codec_context.sample_rate
        self.channels: int = stream.codec_context.channels

    def blocks(self) -> Iterator[np.ndarray]:
        """Decoded audio in file order, each block float32/int ``(frames, channels)``."""
        try:
            for frame in self._container.decode(self._stream):
                yield _frame_array(frame)
        except av.FFmpegError as exc:
            raise InvalidArgument(f"cannot decode {self.path!r}: {exc}") from None

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> AudioFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_audio_file(path: str | os.PathLike[str]) -> AudioFile:
    """Open ``path`` and find its first audio stream; ``InvalidArgument`` if there is none."""
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgument(f"path must be a file path, got {type(path).__name__}")
    name = os.fspath(path)
    if not os.path.isfile(name):
        raise InvalidArgument(f"no such audio file: {name!r}")
    try:
        container = av.open(name, "r")
    except (av.FFmpegError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"{name!r} is not an audio file PyAV can read: {exc}") from None
    if not container.streams.audio:
        container.close()
        raise InvalidArgument(f"{name!r} has no audio stream")
    stream = container.streams.audio[0]
    if not stream.codec_context.sample_rate or not stream.codec_context.channels:
        container.close()
        raise InvalidArgument(f"{name!r}: its audio stream has no sample rate or channels")
    return AudioFile(name, container, stream)


def _frame_array(frame: av.AudioFrame) -> np.ndarray:
    """A decoded frame as ``(frames, channels)``, in the frame's own sample type."""
    array = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        return np.asarray(array.T)  # (channels, frames) -> (frames, channels)
    return np.asarray(array.reshape(-1, channels))

"""File paths the user gives (a recording, a picture, a history file, an image, a sound).

``check_path`` is the one rule: a ``str`` or ``os.PathLike`` naming something, with no NUL
character (the operating system cannot take one, and FFmpeg silently cuts the name at it), and
with one of the expected suffixes where the format is chosen by the name.

``read_regular_file`` reads a file the user names without trusting its name: a FIFO would
block the read forever and ``/dev/zero`` would fill memory, so only a regular file is read,
and no more of it than a limit.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from .errors import InvalidArgument

__all__ = ["check_path", "check_new_file", "read_regular_file"]


def check_path(
    value: Any,
    name: str = "path",
    suffixes: tuple[str, ...] = (),
    error: type[InvalidArgument] = InvalidArgument,
) -> str:
    """``value`` as a ``str`` path, or ``error`` naming ``name`` and what is accepted."""
    shown = f"ending in {' or '.join(suffixes)}" if suffixes else "naming a file"
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        raise error(f"{name} must be a path (str or os.PathLike) {shown}, got {value!r}")
    path = os.fspath(value)
    if not isinstance(path, str) or not path:
        raise error(f"{name} must be a path (str or os.PathLike) {shown}, got {value!r}")
    if "\x00" in path:
        raise error(f"{name} must not contain a NUL character, got {path!r}")
    try:
        os.fsencode(path)
    except UnicodeError:  # a lone surrogate no file system name can hold
        raise error(f"{name} is not a name the file system can hold: {path!r}") from None
    if suffixes and not path.lower().endswith(suffixes):
        raise error(f"{name} must be a path {shown}, got {path!r}")
    return path


def check_new_file(
    value: Any,
    name: str = "path",
    suffixes: tuple[str, ...] = (),
    error: type[InvalidArgument] = InvalidArgument,
) -> str:
    """A path to write a file to: as ``check_path``, and not an existing FIFO, device or folder
    (opening a FIFO to write waits for a reader, forever; replacing a device is never meant)."""
    path = check_path(value, name, suffixes, error)
    if os.path.lexists(path) and not os.path.isfile(path):
        raise error(f"{name} {path!r} exists and is not a regular file")
    return path


def read_regular_file(path: str, limit: int, what: str = "file") -> bytes:
    """The bytes of the regular file at ``path``; ``OSError`` for anything else (a FIFO, a
    device, a directory) or a file longer than ``limit`` bytes."""
    # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"the {what} is not a regular file")
        data = file.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"the {what} is too large (more than {limit} bytes)")
    return data

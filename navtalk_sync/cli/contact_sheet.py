"""A contact sheet: a grid of the avatar's face, sampled evenly across its reply, as a PNG.

The PNG is written with ``zlib`` alone (no imaging library is needed): a picture people would
rather look at than a log, and one a test can read back with PyAV.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Sequence, TypeVar

import numpy as np

__all__ = ["CELL", "COLUMNS", "GAP", "ROWS", "cell_box", "pick_evenly", "sheet_size", "write_png",
           "write_sheet"]  # fmt: skip

#: The grid: COLUMNS x ROWS cells of CELL x CELL pixels, GAP pixels apart and around.
COLUMNS, ROWS, CELL, GAP = 4, 3, 256, 6
_PAPER = (32, 32, 36)  # the dark frame around the cells

T = TypeVar("T")


def sheet_size() -> tuple[int, int]:
    """(width, height) of a sheet in pixels."""
    return COLUMNS * CELL + (COLUMNS + 1) * GAP, ROWS * CELL + (ROWS + 1) * GAP


def cell_box(index: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of cell ``index`` (row by row, left to right)."""
    row, column = divmod(index, COLUMNS)
    x0 = GAP + column * (CELL + GAP)
    y0 = GAP + row * (CELL + GAP)
    return x0, y0, x0 + CELL, y0 + CELL


def pick_evenly(items: Sequence[T], count: int = COLUMNS * ROWS) -> list[T]:
    """``count`` items spread evenly from the first to the last (all of them when fewer)."""
    if len(items) <= count:
        return list(items)
    last = len(items) - 1
    return [items[round(i * last / (count - 1))] for i in range(count)]


def write_sheet(images: Sequence[np.ndarray], path: str | Path) -> None:
    """Lay out up to COLUMNS x ROWS RGB images (any size; each is scaled to CELL) in a grid and
    write it to ``path`` as a PNG. Cells without an image stay empty."""
    width, height = sheet_size()
    sheet = np.empty((height, width, 3), np.uint8)
    sheet[:] = _PAPER
    for index, image in enumerate(images[: COLUMNS * ROWS]):
        x0, y0, x1, y1 = cell_box(index)
        sheet[y0:y1, x0:x1] = _fit(image)
    write_png(sheet, path)


def _fit(image: np.ndarray) -> np.ndarray:
    """``image`` scaled to CELL x CELL by nearest-neighbour sampling (faces are square)."""
    height, width = image.shape[:2]
    rows = np.arange(CELL) * height // CELL
    columns = np.arange(CELL) * width // CELL
    return image[rows][:, columns, :3]


def write_png(image: np.ndarray, path: str | Path) -> None:
    """Write an ``(height, width, 3)`` uint8 RGB array as an 8-bit RGB PNG."""
    height, width = image.shape[:2]
    # every scanline starts with its filter type: 0 (none)
    scanlines = np.zeros((height, width * 3 + 1), np.uint8)
    scanlines[:, 1:] = np.ascontiguousarray(image, np.uint8).reshape(height, width * 3)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    png = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
    png += _chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 6)) + _chunk(b"IEND", b"")
    Path(path).write_bytes(png)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

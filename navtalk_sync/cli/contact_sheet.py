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


def write_sheet(images: Sequence[np.ndarray], path: str | Path, labels: Sequence[str] = ()) -> None:
    """Lay out up to COLUMNS x ROWS RGB images (any size; each is scaled to CELL) in a grid and
    write it to ``path`` as a PNG. Cells without an image stay empty. ``labels`` (digits, ".",
    "s" and spaces, e.g. "1.24 s") are drawn in the cells' bottom-left corners."""
    width, height = sheet_size()
    sheet = np.empty((height, width, 3), np.uint8)
    sheet[:] = _PAPER
    for index, image in enumerate(images[: COLUMNS * ROWS]):
        x0, y0, x1, y1 = cell_box(index)
        sheet[y0:y1, x0:x1] = _fit(image)
        if index < len(labels):
            _draw_label(sheet[y0:y1, x0:x1], labels[index])
    write_png(sheet, path)


# A 3x5 pixel font for the labels: each glyph is five rows of three bits.
_GLYPHS = {
    "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7), "2": (7, 1, 7, 4, 7), "3": (7, 1, 7, 1, 7),
    "4": (5, 5, 7, 1, 1), "5": (7, 4, 7, 1, 7), "6": (7, 4, 7, 5, 7), "7": (7, 1, 1, 1, 1),
    "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 7), ".": (0, 0, 0, 0, 2), "s": (0, 7, 4, 1, 7),
    " ": (0, 0, 0, 0, 0),
}  # fmt: skip
_SCALE = 3  # pixels per font pixel


def _draw_label(cell: np.ndarray, text: str) -> None:
    """White ``text`` on a dark box in the bottom-left corner of ``cell`` (drawn in place)."""
    glyphs = [_GLYPHS.get(char, _GLYPHS[" "]) for char in text]
    pad, advance = 2 * _SCALE, 4 * _SCALE
    box_height, box_width = 5 * _SCALE + 2 * pad, len(glyphs) * advance - _SCALE + 2 * pad
    top = cell.shape[0] - box_height
    cell[top:, :box_width] = _PAPER
    for position, rows in enumerate(glyphs):
        for row, bits in enumerate(rows):
            for column in range(3):
                if bits & (4 >> column):
                    y = top + pad + row * _SCALE
                    x = pad + position * advance + column * _SCALE
                    cell[y : y + _SCALE, x : x + _SCALE] = 255


def _fit(image: np.ndarray) -> np.ndarray:
    """``image`` scaled to CELL x CELL by nearest-neighbour sampling (faces are square)."""
    height, width = image.shape[:2]
    rows = np.arange(CELL) * height // CELL
    columns = np.arange(CELL) * width // CELL
    fitted: np.ndarray = image[rows][:, columns, :3]
    return fitted


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

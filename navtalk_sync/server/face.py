"""The local server's avatar: a face drawn with numpy, whose mouth opens as it speaks.

Everything but the mouth is the same in every frame, so it is drawn once per picture size (two
versions: eyes open, eyes closed) and each frame only copies it and repaints the small mouth box.
That keeps a 512x512 face at 25 fps well under a millisecond per frame.

The open mouth's inside is a distinctly dark colour and nothing else in ``MOUTH_BOX`` is dark,
so "how much of the mouth box is dark" tells an idle face from a speaking one, even after a
lossy video codec.
"""

from __future__ import annotations

import functools
import math

import attrs
import numpy as np

__all__ = ["MOUTH_BOX", "MOUTH_INSIDE", "draw_face"]

#: The mouth region as fractions (x0, y0, x1, y1) of the picture's width and height.
MOUTH_BOX: tuple[float, float, float, float] = (0.36, 0.60, 0.64, 0.74)
#: The colour inside the open mouth (RGB): much darker than skin and lips.
MOUTH_INSIDE = (46, 12, 24)

_BACKGROUND_TOP = (203, 223, 240)
_BACKGROUND_BOTTOM = (150, 180, 214)
_SHIRT = (62, 104, 150)
_SKIN = (242, 203, 172)
_SKIN_SHADE = (226, 180, 150)
_HAIR = (94, 62, 42)
_EYE_WHITE = (250, 250, 248)
_IRIS = (72, 118, 160)
_PUPIL = (24, 24, 32)
_LID_LINE = (128, 84, 70)
_BROW = (100, 66, 46)
_BLUSH = (238, 160, 150)
_LIPS = (200, 92, 104)
_TEETH = (246, 244, 236)

# The mouth: centre and half-axes as fractions of width/height (all inside MOUTH_BOX).
_MOUTH_X, _MOUTH_Y = 0.5, 0.665
_MOUTH_HALF_WIDTH = 0.09
_LIP = 0.009  # lip thickness
_CLOSED_HALF_HEIGHT = 0.011
_OPEN_EXTRA_HEIGHT = 0.042
_SMILE = 0.012  # how far the corners curl up


@attrs.frozen(eq=False)
class _Canvas:
    """What never changes for one picture size: the two static faces and the mouth box grid."""

    eyes_open: np.ndarray
    eyes_closed: np.ndarray
    box: tuple[int, int, int, int]  # pixel rows/columns: y0, y1, x0, x1
    box_x: np.ndarray  # fractions of the width, one row
    box_y: np.ndarray  # fractions of the height, one column


def draw_face(width: int, height: int, mouth_open: float, blink: bool = False) -> np.ndarray:
    """The avatar's face as an RGB picture, shape ``(height, width, 3)``, dtype uint8.

    ``mouth_open`` runs from 0 (closed, a smiling line) to 1 (wide open); values outside are
    clipped. ``blink`` draws the eyes closed. Returns a new array the caller may keep.
    """
    canvas = _canvas(int(width), int(height))
    frame = (canvas.eyes_closed if blink else canvas.eyes_open).copy()
    y0, y1, x0, x1 = canvas.box
    frame[y0:y1, x0:x1] = _mouth(canvas, _clip(mouth_open))
    return np.asarray(frame)


def _clip(value: float) -> float:
    value = float(value)
    return 0.0 if math.isnan(value) else min(1.0, max(0.0, value))


@functools.lru_cache(maxsize=8)
def _canvas(width: int, height: int) -> _Canvas:
    if width < 16 or height < 16:
        raise ValueError(f"a face needs at least 16x16 pixels, got {width}x{height}")
    x = (np.arange(width, dtype=np.float32) + 0.5) / width
    y = (np.arange(height, dtype=np.float32) + 0.5) / height
    xx, yy = x[np.newaxis, :], y[:, np.newaxis]
    face = _static_face(xx, yy)
    closed = face.copy()
    _paint_eyes(face, xx, yy)
    _paint_closed_eyes(closed, xx, yy)
    bx0, by0, bx1, by1 = MOUTH_BOX
    box = (round(by0 * height), round(by1 * height), round(bx0 * width), round(bx1 * width))
    for array in (face, closed):
        array.setflags(write=False)
    return _Canvas(
        eyes_open=face,
        eyes_closed=closed,
        box=box,
        box_x=x[box[2] : box[3]][np.newaxis, :],
        box_y=y[box[0] : box[1]][:, np.newaxis],
    )


def _ellipse(
    xx: np.ndarray, yy: np.ndarray, cx: float, cy: float, rx: float, ry: float
) -> np.ndarray:
    """Where the points (xx, yy) fall inside an ellipse (broadcast boolean mask)."""
    return ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0


def _paint(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int]) -> None:
    image[np.broadcast_to(mask, image.shape[:2])] = colour


def _blend(image: np.ndarray, mask: np.ndarray, colour: tuple[int, int, int], alpha: float) -> None:
    where = np.broadcast_to(mask, image.shape[:2])
    mixed = image[where] * (1 - alpha) + np.asarray(colour, np.float32) * alpha
    image[where] = mixed.astype(np.uint8)


def _static_face(xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
    """Background, shoulders, head, hair, ears, brows, nose and cheeks: no eyes, no mouth."""
    top = np.asarray(_BACKGROUND_TOP, np.float32)
    bottom = np.asarray(_BACKGROUND_BOTTOM, np.float32)
    background = top + (bottom - top) * yy[..., np.newaxis]  # (h, 1, 3): a vertical gradient
    image = np.empty((yy.shape[0], xx.shape[1], 3), np.uint8)
    image[:] = background.astype(np.uint8)

    _paint(image, _ellipse(xx, yy, 0.5, 1.08, 0.42, 0.24), _SHIRT)  # shoulders
    _paint(image, (np.abs(xx - 0.5) < 0.075) & (yy > 0.70) & (yy < 0.88), _SKIN_SHADE)  # neck
    _paint(image, _ellipse(xx, yy, 0.235, 0.47, 0.04, 0.07), _SKIN_SHADE)  # ears
    _paint(image, _ellipse(xx, yy, 0.765, 0.47, 0.04, 0.07), _SKIN_SHADE)
    head = _ellipse(xx, yy, 0.5, 0.47, 0.26, 0.33)
    _paint(image, head, _SKIN)

    hair_cap = _ellipse(xx, yy, 0.5, 0.43, 0.28, 0.34)
    hairline = 0.27 + 0.10 * ((xx - 0.5) / 0.28) ** 2  # lower towards the temples
    _paint(image, hair_cap & (yy < hairline), _HAIR)

    for cx in (0.39, 0.61):
        brow = _ellipse(xx, yy, cx, 0.385, 0.06, 0.018) & ~_ellipse(xx, yy, cx, 0.395, 0.058, 0.016)
        _paint(image, brow & (yy < 0.39), _BROW)
        _blend(image, _ellipse(xx, yy, cx + (cx - 0.5) * 0.35, 0.57, 0.05, 0.03), _BLUSH, 0.45)

    _blend(image, _ellipse(xx, yy, 0.5, 0.545, 0.03, 0.022), _SKIN_SHADE, 0.9)  # nose tip
    _blend(image, _ellipse(xx, yy, 0.5, 0.50, 0.012, 0.05), _SKIN_SHADE, 0.5)  # nose bridge
    return image


def _paint_eyes(image: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> None:
    for cx in (0.39, 0.61):
        _paint(image, _ellipse(xx, yy, cx, 0.45, 0.052, 0.032), _EYE_WHITE)
        _paint(image, _ellipse(xx, yy, cx, 0.452, 0.024, 0.024), _IRIS)
        _paint(image, _ellipse(xx, yy, cx, 0.452, 0.011, 0.011), _PUPIL)
        _paint(image, _ellipse(xx, yy, cx + 0.008, 0.443, 0.005, 0.005), _EYE_WHITE)


def _paint_closed_eyes(image: np.ndarray, xx: np.ndarray, yy: np.ndarray) -> None:
    for cx in (0.39, 0.61):
        lid = _ellipse(xx, yy, cx, 0.448, 0.052, 0.012) & ~_ellipse(xx, yy, cx, 0.440, 0.05, 0.01)
        _paint(image, lid & (yy > 0.445), _LID_LINE)


def _mouth(canvas: _Canvas, mouth_open: float) -> np.ndarray:
    """The mouth box of the eyes-open face with a mouth opened by ``mouth_open`` (0..1)."""
    y0, y1, x0, x1 = canvas.box
    patch = np.array(canvas.eyes_open[y0:y1, x0:x1])
    dx = (canvas.box_x - _MOUTH_X) / _MOUTH_HALF_WIDTH
    # Bend the vertical axis so the corners curl up: a smile, open or closed.
    dy = canvas.box_y - _MOUTH_Y + _SMILE * dx**2
    half_height = _CLOSED_HALF_HEIGHT + _OPEN_EXTRA_HEIGHT * mouth_open
    lips = dx**2 + (dy / half_height) ** 2 <= 1.0
    _paint(patch, lips, _LIPS)
    inner_height = half_height - _LIP
    if inner_height > 0.002:
        inner_dx = dx * _MOUTH_HALF_WIDTH / (_MOUTH_HALF_WIDTH - _LIP)
        inside = inner_dx**2 + (dy / inner_height) ** 2 <= 1.0
        _paint(patch, inside, MOUTH_INSIDE)
        if mouth_open > 0.3:  # upper teeth show once the mouth is well open
            _paint(patch, inside & (dy < -0.6 * inner_height), _TEETH)
    else:  # closed: a thin dark line between the lips
        _paint(patch, (np.abs(dy) < 0.0025) & (np.abs(dx) < 0.8), _LID_LINE)
    return patch

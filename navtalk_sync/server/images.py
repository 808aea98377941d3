"""What the server makes of a ``realtime.input_image``: the picture's format and size.

Pure and cheap (it runs on the event loop): the size is read from the JPEG frame header or the
PNG ``IHDR`` chunk without decoding the picture. An image whose header cannot be read is still
recorded, with no size, so the brain can say it could not make it out.
"""

from __future__ import annotations

import base64
import binascii
import struct

import attrs

__all__ = ["SeenImage", "inspect_data_url"]

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
#: JPEG start-of-frame markers (baseline, progressive, ...) carry the picture's size;
#: C4 (Huffman tables), C8 (reserved) and CC (arithmetic tables) do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


@attrs.frozen
class SeenImage:
    """One image a client sent: ``format`` from the data URL (``jpeg``, ``png``...), its size
    in bytes, and ``width``/``height`` (None when the header could not be read)."""

    format: str
    size: int
    width: int | None = None
    height: int | None = None
    reply: bool = False

    @property
    def readable(self) -> bool:
        return self.width is not None and self.height is not None


def inspect_data_url(data_url: str, reply: bool = False) -> SeenImage:
    """A validated ``data:image/<fmt>;base64,...`` URL -> what it holds."""
    header, _, payload = data_url.partition(",")
    image_format = header[len("data:image/") :].split(";", 1)[0].lower()
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return SeenImage(format=image_format, size=0, reply=reply)
    size = _png_size(data) if data.startswith(_PNG_MAGIC) else _jpeg_size(data)
    width, height = size if size else (None, None)
    return SeenImage(format=image_format, size=len(data), width=width, height=height, reply=reply)


def _png_size(data: bytes) -> tuple[int, int] | None:
    # magic (8), chunk length (4), "IHDR" (4), width (4), height (4)
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return (width, height) if width and height else None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    if not data.startswith(b"\xff\xd8"):
        return None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # segments without a length
            position += 2
            continue
        (length,) = struct.unpack(">H", data[position + 2 : position + 4])
        if marker in _JPEG_SOF:
            if position + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[position + 5 : position + 9])
            return (width, height) if width and height else None
        position += 2 + length
    return None

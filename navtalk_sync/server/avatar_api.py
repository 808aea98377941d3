"""The avatar lookup endpoints (protocol.md#avatar-api), served over HTTP beside the WebSocket.

The real service answers ``GET /api/open/v1/avatar/getByName?name=...`` and
``GET /api/open/v1/avatar/detail?avatarId=...`` on its own HTTPS host; the local server answers
them on the same host and port as its WebSocket (``websockets`` hands every request to
``process_request`` before the upgrade, so a plain GET can be answered there). Each avatar's
picture (a PNG of the face the video track shows) is served too, without a licence, the way a
CDN serves ``thumbnailUrl``, so a browser ``<img>`` can show it.

Every answer carries permissive CORS headers and ``OPTIONS`` preflights are answered, so a page
served from another loopback port can look an avatar up with ``fetch`` and a ``license`` header.

Errors use the open-API envelope (``{"code", "message", "data"}``) with the same HTTP status:
401 for a missing or wrong licence, 404 for an unknown avatar or path. ``faults.avatar_lookup_code``
makes a lookup answer HTTP 200 with that envelope code instead.
"""

from __future__ import annotations

import email.utils
import functools
import hmac
import json
import struct
import zlib
from http import HTTPStatus
from typing import Any, Sequence

import numpy as np
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from ..logs import get_logger
from .admission import parse_query
from .avatars import Avatar, find_avatar
from .face import draw_face
from .faults import Faults

__all__ = ["API_PATH", "AvatarApi", "encode_png"]

log = get_logger(__name__)

#: Where the open API lives on the server (the real base is https://api.navtalk.ai + this).
API_PATH = "/api/open/v1"
_GET_BY_NAME = f"{API_PATH}/avatar/getByName"
_DETAIL = f"{API_PATH}/avatar/detail"
_IMAGE_PREFIX = f"{API_PATH}/avatar/image/"
#: ``url`` is the full-size face, ``thumbnailUrl`` a small one.
_THUMBNAIL_SUFFIX = "_thumb"
THUMBNAIL_SIZE = 128
#: The model reported for an "openai" avatar (others report none).
MODEL = "gpt-realtime"
DEFAULT_VOICE = "alloy"

_CORS_HEADERS = (
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, OPTIONS"),
    ("Access-Control-Max-Age", "600"),
)
_ALLOWED_REQUEST_HEADERS = "license, content-type, accept"


def encode_png(rgb: np.ndarray) -> bytes:
    """An (height, width, 3) uint8 RGB picture as a PNG file (8-bit truecolour, no filter)."""
    height, width, _ = rgb.shape
    rows = np.zeros((height, width * 3 + 1), dtype=np.uint8)  # each row starts with filter 0
    rows[:, 1:] = rgb.reshape(height, width * 3)

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


@functools.lru_cache(maxsize=8)
def _face_png(width: int, height: int) -> bytes:
    """The idle face (mouth closed, eyes open); drawn and encoded once per size."""
    return encode_png(draw_face(width, height, 0.0))


class AvatarApi:
    """Answers the open-API avatar requests; ``respond`` returns None for any other path."""

    def __init__(
        self,
        avatars: Sequence[Avatar],
        license: str,
        accept_any_license: bool,
        faults: Faults,
        image_size: tuple[int, int],
    ) -> None:
        self._avatars = tuple(avatars)
        self._license = license
        self._accept_any_license = accept_any_license
        self._faults = faults
        self._image_size = image_size

    def respond(self, request: Request, base_url: str) -> Response | None:
        """The answer to ``request``, or None when its path is not under ``API_PATH``.

        ``base_url`` is the server's ``http://host:port/api/open/v1``, for the picture URLs.
        """
        path, _, query = request.path.partition("?")
        if path != API_PATH and not path.startswith(API_PATH + "/"):
            return None
        # websockets before 17 (the last for Python 3.10) reads GET requests only and refuses
        # any other before this is asked, so there a browser's CORS preflight cannot be answered.
        method = getattr(request, "method", "GET")
        if method == "OPTIONS":
            return self._preflight(request)
        if method != "GET":
            response = _envelope(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and OPTIONS")
            response.headers["Allow"] = "GET, OPTIONS"
            return response
        if path.startswith(_IMAGE_PREFIX):
            return self._image(path[len(_IMAGE_PREFIX) :])
        if path not in (_GET_BY_NAME, _DETAIL):
            return _envelope(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}")
        params = parse_query(query)
        response = self._lookup(path, params, request.headers.get("license"), base_url)
        log.debug("avatar lookup %s answered %d", path, response.status_code)
        return response

    def _lookup(
        self, path: str, params: dict[str, str], header_license: str | None, base_url: str
    ) -> Response:
        # The header wins; the JS SDK sends the licence as a query parameter instead.
        refusal = self._license_refusal(header_license or params.get("license"))
        if refusal is not None:
            return _envelope(HTTPStatus.UNAUTHORIZED, refusal)
        code = self._faults.avatar_lookup_code
        if code is not None:
            return _envelope(HTTPStatus.OK, "avatar lookup failed (fault)", code=code)
        if path == _DETAIL:
            wanted = params.get("avatarId")
            avatar, _ = find_avatar(self._avatars, wanted or None, None)
            missing = f"no avatar has id {wanted!r}" if wanted else "give avatarId=<id>"
        else:
            wanted = params.get("name")
            avatar, _ = find_avatar(self._avatars, None, wanted or None)
            missing = f"no avatar is named {wanted!r}" if wanted else "give name=<avatar name>"
        if avatar is None:
            return _envelope(HTTPStatus.NOT_FOUND, f"Avatar not found: {missing}")
        return _envelope(HTTPStatus.OK, "SUCCESS", data=self._describe(avatar, base_url))

    def _license_refusal(self, given: str | None) -> str | None:
        if not given:
            return "License missing: send a 'license' header (or license=<key> in the query)"
        if self._accept_any_license:
            return None
        # compare_digest: the check's timing must not tell how much of a guess was right.
        if not hmac.compare_digest(given.encode("utf-8"), self._license.encode("utf-8")):
            return "License not recognised"
        return None

    def _describe(self, avatar: Avatar, base_url: str) -> dict[str, Any]:
        """The ``data`` of a successful lookup, shaped like the documented example
        (protocol.md#avatar-api)."""
        image = f"{base_url}/avatar/image/{avatar.id}"
        return {
            "id": avatar.id,
            "name": avatar.name,
            "url": f"{image}.png",
            "thumbnailUrl": f"{image}{_THUMBNAIL_SUFFIX}.png",
            "providerName": avatar.provider_name,
            "model": MODEL if avatar.provider_name == "openai" else None,
            "voice": avatar.voice or DEFAULT_VOICE,
            "firstMessage": None,
            "prompt": avatar.prompt,
            "videoFile": False,
            "status": "Success",
        }

    def _image(self, file_name: str) -> Response:
        stem, dot, extension = file_name.rpartition(".")
        thumbnail = stem.endswith(_THUMBNAIL_SUFFIX)
        avatar_id = stem[: -len(_THUMBNAIL_SUFFIX)] if thumbnail else stem
        if not dot or extension != "png" or not any(a.id == avatar_id for a in self._avatars):
            return _envelope(HTTPStatus.NOT_FOUND, f"no such picture: {file_name}")
        width, height = (THUMBNAIL_SIZE, THUMBNAIL_SIZE) if thumbnail else self._image_size
        return _response(HTTPStatus.OK, _face_png(width, height), "image/png")

    def _preflight(self, request: Request) -> Response:
        response = _response(HTTPStatus.NO_CONTENT, b"", None)
        asked = request.headers.get("Access-Control-Request-Headers")
        response.headers["Access-Control-Allow-Headers"] = asked or _ALLOWED_REQUEST_HEADERS
        return response


def _envelope(
    status: HTTPStatus, message: str, code: int | None = None, data: Any = None
) -> Response:
    """The open-API envelope as JSON; ``code`` defaults to the HTTP status."""
    body = {"code": status.value if code is None else code, "message": message, "data": data}
    return _response(status, json.dumps(body).encode("utf-8"), "application/json")


def _response(status: HTTPStatus, body: bytes, content_type: str | None) -> Response:
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),  # websockets closes the connection after any non-upgrade
            ("Content-Length", str(len(body))),
            *_CORS_HEADERS,
        ]
    )
    if content_type is not None:
        headers["Content-Type"] = content_type
    return Response(status.value, status.phrase, headers, body)

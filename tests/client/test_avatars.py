"""Avatar lookup over HTTP (protocol.md#avatar-api): ``nt.get_avatar`` against the local
server's open API, served on the same host and port as its WebSocket."""

from __future__ import annotations

import http.client
import io
import json
import socket
import urllib.request
import warnings
from urllib.parse import urlsplit

import av
import numpy as np
import pytest
import websockets.version

import navtalk_sync as nt
from navtalk_sync.avatars import DEFAULT_API_URL, api_url_for
from navtalk_sync.config import DEFAULT_URL
from navtalk_sync.server import LocalServer
from navtalk_sync.server.avatar_api import THUMBNAIL_SIZE
from navtalk_sync.server.avatars import Avatar, avatar_id_for
from navtalk_sync.server.face import draw_face

pytestmark = pytest.mark.timeout(30)

LEO = "navtalk.Leo"


@pytest.fixture
def server():
    with LocalServer(video_size=(256, 192)) as srv:
        yield srv


def lookup(server: LocalServer, **what: str) -> nt.AvatarInfo:
    return nt.get_avatar(server.license, base_url=server.http_url, timeout=10, **what)


def raw_request(
    server: LocalServer, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers with lower-case names, body) of one plain HTTP request."""
    parts = urlsplit(server.http_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, parts.path + path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def decode_png(data: bytes) -> np.ndarray:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with av.open(io.BytesIO(data)) as container:
        assert container.format.name == "png_pipe"
        frame = next(container.decode(video=0))
        return frame.to_ndarray(format="rgb24")


def fetch(url: str) -> tuple[str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers["Content-Type"], response.read()


# ------------------------------------------------------------------ lookups


def test_lookup_by_name_describes_the_avatar(server):
    info = lookup(server, name=LEO)
    assert info.id == avatar_id_for(LEO)
    assert info.name == LEO
    assert info.provider_name == "openai"
    assert info.supports_tools_and_images is True
    assert info.thumbnail_url.startswith(server.http_url + "/")
    assert info.url.startswith(server.http_url + "/") and info.url != info.thumbnail_url
    assert info.raw["thumbnailUrl"] == info.thumbnail_url
    assert info.status == "Success"


def test_lookup_by_id_finds_the_same_avatar(server):
    by_name = lookup(server, name=LEO)
    by_id = lookup(server, avatar_id=by_name.id)
    assert by_id == by_name


def test_avatar_id_wins_over_name(server):
    info = lookup(server, name=LEO, avatar_id=avatar_id_for("navtalk.Mia"))
    assert info.name == "navtalk.Mia"


def test_custom_avatar_fields_come_through():
    custom = Avatar(id="3f1c0a9e5b7d4c2a9e8f6b1d0c3a5e7f", name="front-desk-anna", voice="marin")
    with LocalServer(avatars=[custom]) as server:
        info = lookup(server, name="front-desk-anna")
    assert (info.id, info.voice, info.model) == (custom.id, "marin", "gpt-realtime")


@pytest.mark.parametrize("what", [{"name": "navtalk.Nobody"}, {"avatar_id": "0" * 32}])
def test_unknown_avatar_raises_avatar_not_found(server, what):
    with pytest.raises(nt.AvatarNotFound) as info:
        lookup(server, **what)
    assert info.value.status_code == 404
    assert next(iter(what.values())) in str(info.value)
    assert isinstance(info.value, nt.AvatarLookupFailed)


def test_wrong_licence_is_refused_without_repeating_it(server, caplog):
    wrong = "my-wrong-licence-42"
    with pytest.raises(nt.AvatarLookupFailed) as info:
        nt.get_avatar(wrong, name=LEO, base_url=server.http_url, timeout=10)
    error = info.value
    assert not isinstance(error, nt.AvatarNotFound)
    assert error.status_code == 401 and error.code == 401
    assert "License not recognised" in str(error)
    for text in (str(error), repr(error), caplog.text):
        assert wrong not in text and server.license not in text


def test_the_licence_travels_in_the_header_and_the_server_accepts_it_in_the_query(server):
    path = f"/avatar/getByName?name={LEO}"
    status, _, body = raw_request(server, "GET", path)
    assert status == 401 and json.loads(body)["code"] == 401  # none given
    status, _, body = raw_request(server, "GET", f"{path}&license={server.license}")
    assert status == 200 and json.loads(body)["data"]["name"] == LEO
    status, _, body = raw_request(server, "GET", path, {"license": server.license})
    assert status == 200 and json.loads(body)["data"]["name"] == LEO


def test_non_200_envelope_code_raises_lookup_failed(server):
    server.faults.avatar_lookup_code = 500
    with pytest.raises(nt.AvatarLookupFailed) as info:
        lookup(server, name=LEO)
    error = info.value
    assert not isinstance(error, nt.AvatarNotFound)
    assert (error.status_code, error.code) == (200, 500)
    assert "code 500" in str(error)
    server.faults.avatar_lookup_code = None
    assert lookup(server, name=LEO).name == LEO


def test_fault_rejects_a_200_code(server):
    with pytest.raises(ValueError, match="other than 200"):
        server.faults.avatar_lookup_code = 200


def test_unreachable_api_raises_lookup_failed():
    with socket.socket() as probe:  # a loopback port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(nt.AvatarLookupFailed, match="could not be reached"):
        nt.get_avatar("sk_navtalk_x", name=LEO, base_url=f"http://127.0.0.1:{port}", timeout=5)


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"license": "sk_navtalk_x"}, "name an avatar"),
        ({"license": "sk_navtalk_x", "name": " "}, "name must be a non-empty string"),
        ({"license": "sk_navtalk_x", "name": LEO, "base_url": "ftp://x"}, "https://"),
        ({"license": "sk_navtalk_x", "name": LEO, "timeout": 0}, "timeout"),
        ({"license": "line\nbreak", "name": LEO}, "whitespace"),
    ],
)
def test_bad_arguments_are_refused_before_any_request(arguments, message):
    with pytest.raises(nt.InvalidArgument, match=message) as info:
        nt.get_avatar(**arguments)
    assert "line\nbreak" not in str(info.value)


def test_licence_defaults_to_the_environment(server, monkeypatch):
    monkeypatch.setenv("NAVTALK_LICENSE", server.license)
    assert nt.get_avatar(name=LEO, base_url=server.http_url, timeout=10).name == LEO
    monkeypatch.delenv("NAVTALK_LICENSE")
    with pytest.raises(nt.InvalidArgument, match="NAVTALK_LICENSE"):
        nt.get_avatar(name=LEO, base_url=server.http_url)


# ------------------------------------------------------------------ the pictures


def test_thumbnail_and_url_are_pngs_of_the_face(server):
    info = lookup(server, name=LEO)
    content_type, thumbnail = fetch(info.thumbnail_url)  # no licence: served like a CDN
    assert content_type == "image/png"
    size = THUMBNAIL_SIZE
    np.testing.assert_array_equal(decode_png(thumbnail), draw_face(size, size, 0.0))
    _, picture = fetch(info.url)
    np.testing.assert_array_equal(decode_png(picture), draw_face(256, 192, 0.0))


def test_unknown_picture_is_404(server):
    status, headers, body = raw_request(server, "GET", "/avatar/image/nobody.png")
    assert status == 404 and json.loads(body)["code"] == 404
    assert headers["access-control-allow-origin"] == "*"


# ------------------------------------------------------------------ CORS


def test_answers_carry_permissive_cors_headers(server):
    origin = {"Origin": "http://127.0.0.1:9"}
    for path in (f"/avatar/getByName?name={LEO}&license={server.license}", "/avatar/detail"):
        status, headers, _ = raw_request(server, "GET", path, origin)
        assert headers["access-control-allow-origin"] == "*", (path, status)


@pytest.mark.skipif(
    int(websockets.version.version.split(".")[0]) < 17,
    reason="websockets before 17 (Python 3.10) refuses requests other than GET itself",
)
def test_preflight_allows_the_licence_header(server):
    status, headers, body = raw_request(
        server,
        "OPTIONS",
        f"/avatar/getByName?name={LEO}",
        {
            "Origin": "http://127.0.0.1:9",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "license",
        },
    )
    assert status == 204 and body == b""
    assert headers["access-control-allow-origin"] == "*"
    assert "GET" in headers["access-control-allow-methods"]
    assert "license" in headers["access-control-allow-headers"].lower()


def test_the_websocket_still_works_beside_the_api(server):
    client = nt.NavTalkClient(server.license, avatar_name=LEO, url=server.url, media=False)
    with client:
        client.connect(timeout=15)
        assert client.state == nt.State.SESSION_READY


# ------------------------------------------------------------------ the client's check


def test_api_url_follows_the_session_url(server):
    assert api_url_for(DEFAULT_URL) == DEFAULT_API_URL
    assert api_url_for(server.url) == server.http_url
    assert api_url_for("wss://talk.example.org:8443/wss/v2/realtime-chat") == (
        "https://talk.example.org:8443/api/open/v1"
    )


def test_client_check_avatar_is_quiet_for_an_openai_avatar(server):
    client = nt.NavTalkClient(server.license, avatar_name=LEO, url=server.url, media=False)
    with client, warnings.catch_warnings():
        warnings.simplefilter("error", nt.ProviderWarning)
        info = client.check_avatar(timeout=10)
    assert info.name == LEO and info.supports_tools_and_images


def test_client_check_avatar_warns_about_tools_and_images_for_another_provider():
    other = Avatar(id="e1e1" * 8, name="eleven", provider_name="elevenlabs")
    tool = {"name": "book_room", "description": "Book a room", "parameters": {}}
    with LocalServer(avatars=[other]) as server:
        client = nt.NavTalkClient(
            server.license, avatar_id=other.id, url=server.url, media=False, tools=[tool]
        )
        with client, pytest.warns(nt.ProviderWarning) as caught:
            info = client.check_avatar(timeout=10)
    assert info.supports_tools_and_images is False and info.model is None
    texts = [str(w.message) for w in caught]
    assert any("tools will not be called" in t for t in texts)
    assert any("images" in t for t in texts)


def test_thumbnail_falls_back_to_url():
    info = nt.AvatarInfo.from_data({"id": "a", "url": "https://cdn.example.org/a.jpg"})
    assert info.thumbnail_url == info.url == "https://cdn.example.org/a.jpg"
    assert info.provider_name is None and info.supports_tools_and_images is None


def test_answer_shapes_the_docs_leave_open_are_accepted():
    """A string code and a list of avatars (exact name first) are read too
    (protocol.md#avatar-api)."""
    from navtalk_sync.avatars import _choose, _unwrap

    body = json.dumps(
        {"code": "200", "data": [{"id": "1", "name": "Leo 2"}, {"id": "2", "name": "Leo"}]}
    )
    data = _unwrap(200, body.encode(), "avatar name 'Leo'")
    assert _choose(data, "Leo", "avatar name 'Leo'")["id"] == "2"
    with pytest.raises(nt.AvatarNotFound):
        _choose(_unwrap(200, b'{"code": 200, "data": null}', "x"), None, "x")
    with pytest.raises(nt.AvatarLookupFailed, match="not a JSON object"):
        _unwrap(200, b"<html>", "x")

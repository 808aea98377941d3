"""Images for the avatar (protocol.md#images): conversion with PyAV, send_image() to the local
server, the periodic image feed, and the server's answer to an image that asks for a reply."""

from __future__ import annotations

import base64
import io
from fractions import Fraction

import av
import numpy as np
import pytest

import navtalk_sync as nt
from navtalk_sync import events as ev
from navtalk_sync.images import MAX_SIDE, to_data_url, to_jpeg
from navtalk_sync.server.images import inspect_data_url
from tests.helpers import client_for, wait_until

pytestmark = pytest.mark.timeout(60)

DATA_URL_PREFIX = "data:image/jpeg;base64,"


def picture(height: int, width: int) -> np.ndarray:
    """An RGB test picture with a left-to-right red ramp and a top-to-bottom green ramp."""
    y, x = np.mgrid[0:height, 0:width]
    red = (x * 255 // max(1, width - 1)).astype(np.uint8)
    green = (y * 255 // max(1, height - 1)).astype(np.uint8)
    return np.stack([red, green, np.full_like(red, 60)], axis=-1)


def encoded(array: np.ndarray, codec: str) -> bytes:
    """``array`` as a PNG (``png``) or JPEG (``mjpeg``) file made by PyAV."""
    pix_fmt = "rgb24" if codec == "png" else "yuvj420p"
    encoder = av.CodecContext.create(codec, "w")
    encoder.width, encoder.height = array.shape[1], array.shape[0]
    encoder.pix_fmt = pix_fmt
    encoder.time_base = Fraction(1, 1)
    frame = av.VideoFrame.from_ndarray(array, format="rgb24").reformat(format=pix_fmt)
    return b"".join(bytes(p) for p in encoder.encode(frame) + encoder.encode(None))


def decode_jpeg(data: bytes) -> np.ndarray:
    """A JPEG file -> its RGB pixels (fails the test if it is not a JPEG PyAV can read)."""
    assert data.startswith(b"\xff\xd8\xff") and data.endswith(b"\xff\xd9")
    with av.open(io.BytesIO(data), format="jpeg_pipe") as container:
        return next(container.decode(video=0)).to_ndarray(format="rgb24")


def decode_data_url(url: str) -> np.ndarray:
    assert url.startswith(DATA_URL_PREFIX)
    return decode_jpeg(base64.b64decode(url[len(DATA_URL_PREFIX) :], validate=True))


# ------------------------------------------------------------------ conversion


@pytest.mark.parametrize(
    ("size", "expected"),
    [((1080, 1920), (405, 720)), ((2000, 1000), (720, 360)), ((240, 320), (240, 320)),
     ((720, 720), (720, 720)), ((1, 1), (1, 1)), ((3, 1001), (2, 720))],
)  # fmt: skip
def test_an_array_becomes_a_jpeg_at_most_720_px_on_its_long_side(size, expected):
    original = picture(*size)
    pixels = decode_jpeg(to_jpeg(original))
    assert pixels.shape == (*expected, 3)
    assert max(pixels.shape[:2]) <= MAX_SIDE
    if min(expected) >= 16:  # the picture survives: same colours where it was not scaled away
        small = av.VideoFrame.from_ndarray(original, format="rgb24").reformat(
            expected[1], expected[0], interpolation="AREA"
        )
        reference = small.to_ndarray(format="rgb24").astype(int)
        assert np.abs(pixels.astype(int) - reference).mean() < 6


def test_png_and_jpeg_bytes_and_files_are_converted(tmp_path):
    original = picture(900, 1200)
    png, jpeg = encoded(original, "png"), encoded(original, "mjpeg")
    (tmp_path / "shot.png").write_bytes(png)
    (tmp_path / "shot.jpg").write_bytes(jpeg)
    for image in (png, bytearray(jpeg), memoryview(png), tmp_path / "shot.png",
                  str(tmp_path / "shot.jpg")):  # fmt: skip
        pixels = decode_jpeg(to_jpeg(image))
        assert pixels.shape == (540, 720, 3)
        assert pixels[270, 10, 0] < 40 and pixels[270, 710, 0] > 215  # the red ramp


def test_the_jpeg_is_compressed_at_a_moderate_quality():
    rng = np.random.default_rng(1)
    noisy = (picture(1080, 1920).astype(int) + rng.integers(0, 30, (1080, 1920, 3))).clip(0, 255)
    size = len(to_jpeg(noisy.astype(np.uint8)))
    # the protocol's "typically 30-80 KB"; a quality near 100 would be several times that
    assert 5_000 < size < 120_000


@pytest.mark.parametrize(
    ("image", "complaint"),
    [
        (b"GIF89a not supported", "not a JPEG or PNG"),
        (b"\xff\xd8\xff" + b"\x00" * 200, "not a readable image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "not a readable image"),
        (b"", "not a JPEG or PNG"),
        (np.zeros((10, 10), np.uint8), "(height, width, 3)"),
        (np.zeros((10, 10, 4), np.uint8), "(height, width, 3)"),
        (np.zeros((10, 10, 3), np.float32), "uint8"),
        (np.zeros((0, 10, 3), np.uint8), "empty"),
        (42, "not int"),
        ([[0, 0, 0]], "not list"),
        ("/no/such/image.jpg", "cannot read"),
    ],
)
def test_bad_images_are_refused_with_a_clear_error(image, complaint):
    with pytest.raises(nt.InvalidArgument, match="image|array") as caught:
        to_data_url(image)
    assert complaint in str(caught.value)


def test_too_large_images_are_refused(tmp_path, monkeypatch):
    import navtalk_sync.images as images

    monkeypatch.setattr(images, "MAX_INPUT_PIXELS", 1000)
    with pytest.raises(nt.InvalidArgument, match="too large"):
        to_jpeg(picture(40, 30))
    with pytest.raises(nt.InvalidArgument, match="too large"):
        to_jpeg(encoded(picture(40, 30), "png"))  # refused from the header, before decoding
    monkeypatch.setattr(images, "MAX_INPUT_BYTES", 100)
    (tmp_path / "big.png").write_bytes(encoded(picture(20, 20), "png") + b"\x00" * 200)
    with pytest.raises(nt.InvalidArgument, match="too large"):
        to_jpeg(tmp_path / "big.png")


def test_a_text_file_is_not_an_image(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("not a picture")
    with pytest.raises(nt.InvalidArgument, match="not a JPEG or PNG"):
        to_jpeg(path)


# ------------------------------------------------------------------ the server's view


def test_the_server_reads_the_size_from_the_header():
    jpeg = inspect_data_url(to_data_url(picture(300, 500)), reply=True)
    assert (jpeg.format, jpeg.width, jpeg.height, jpeg.reply) == ("jpeg", 500, 300, True)
    png_url = "data:image/png;base64," + base64.b64encode(encoded(picture(7, 9), "png")).decode()
    assert (inspect_data_url(png_url).width, inspect_data_url(png_url).height) == (9, 7)
    garbage = inspect_data_url("data:image/jpeg;base64,AAAA")
    assert not garbage.readable and garbage.size == 3


# ------------------------------------------------------------------ against the local server


def sent_images(server) -> list[tuple[np.ndarray, int]]:
    """Every realtime.input_image the server received: (decoded pixels, reply flag)."""
    return [
        (decode_data_url(m.message["data"]["content"]), m.message["data"]["reply"])
        for m in server.messages("realtime.input_image")
    ]


def test_each_input_type_arrives_as_a_valid_jpeg_data_url(server, tmp_path):
    png = encoded(picture(480, 640), "png")
    (tmp_path / "photo.png").write_bytes(png)
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        client.send_image(picture(1080, 1920))
        client.send_image(png)
        client.send_image(tmp_path / "photo.png")
        client.send_image(encoded(picture(2000, 1500), "mjpeg"))
        wait_until(lambda: len(server.messages("realtime.input_image")) == 4, timeout=10)
    received = sent_images(server)
    assert [pixels.shape[:2] for pixels, _ in received] == [(405, 720), (480, 640), (480, 640),
                                                           (720, 540)]  # fmt: skip
    assert [reply for _, reply in received] == [0, 0, 0, 0]
    assert all(m.valid for m in server.received)
    assert [t.kind for t in client.history] == ["image"] * 4


def test_an_image_with_reply_gets_an_answer_about_its_size(server):
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        with client.events(ev.ResponseTranscriptDone) as replies:
            client.send_image(picture(600, 800), reply=True)
            answer = replies.get(timeout=10)
    assert answer.text == "I see a picture of 720x540 pixels."
    assert sent_images(server)[0][1] == 1


def test_bad_images_are_refused_before_anything_is_sent(server):
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        for bad in (b"not an image", np.zeros((5, 5, 3), np.int16), "/missing.png"):
            with pytest.raises(nt.InvalidArgument):
                client.send_image(bad, reply=True)
        assert client.ask("Still there?", timeout=10) == "You said: Still there?"
    assert server.messages("realtime.input_image") == []


def test_send_image_needs_a_session():
    client = nt.NavTalkClient("sk_navtalk_test", avatar_name="navtalk.Leo", media=False)
    with client, pytest.raises(nt.NotConnected):
        client.send_image(picture(10, 10))


# ------------------------------------------------------------------ the periodic feed


def test_the_feed_sends_frames_and_survives_a_failing_source(server):
    calls: list[int] = []

    def camera():
        calls.append(len(calls))
        if len(calls) == 1:
            raise OSError("the camera is not ready")
        return picture(360, 640) if len(calls) == 2 else None

    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        client.start_image_feed(camera)
        with pytest.raises(nt.NavTalkError, match="already running"):
            client.start_image_feed(camera)
        wait_until(lambda: len(server.messages("realtime.input_image")) == 1, timeout=15)
        stats = client.stats()
        assert stats["images_sent"] == 1 and stats["images_skipped"] == 1
        assert client.stop_image_feed() is True
        assert client.stop_image_feed() is False
    assert [(pixels.shape[:2], reply) for pixels, reply in sent_images(server)] == [((360, 640), 0)]


def test_close_stops_a_running_feed(server):
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        client.start_image_feed(lambda: picture(100, 100), interval=5)
        wait_until(lambda: len(server.messages("realtime.input_image")) == 1, timeout=10)
    # the conftest fixture fails the test if navtalk-image is still alive


@pytest.mark.parametrize("interval", [0.5, 1.99, -1, "2", True])
def test_the_feed_sends_at_most_one_frame_per_two_seconds(server, interval):
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        with pytest.raises(nt.InvalidArgument):
            client.start_image_feed(lambda: None, interval=interval)
        with pytest.raises(nt.InvalidArgument):
            client.start_image_feed("not callable")

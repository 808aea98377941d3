"""``MouthWatch``: when the avatar's mouth starts and stops moving, from the pictures alone
(the local server's face, through a real H.264 encoder and decoder, as the client gets it)."""

from __future__ import annotations

import fractions
import math

import av
import numpy as np

from navtalk_sync.options import MediaOptions
from navtalk_sync.rtc.mouth import MouthWatch, brightness
from navtalk_sync.server.face import draw_face

FPS = 25


def _through_h264(openings: list[float], blinks: set[int] = frozenset()) -> list[np.ndarray]:
    """The brightness planes a client decodes from a grainy face with these mouth openings."""
    encoder = av.CodecContext.create("libx264", "w")
    encoder.width = encoder.height = 256
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = fractions.Fraction(1, FPS)
    encoder.options = {"tune": "zerolatency", "preset": "ultrafast", "crf": "30"}
    encoder.gop_size = 10  # a key frame every 0.4 s: each one re-draws the codec noise
    decoder = av.CodecContext.create("h264", "r")
    planes = []
    grain = np.random.default_rng(7)
    for index, opening in enumerate(openings):
        picture = draw_face(256, 256, opening, blink=index in blinks)
        # a camera's grain, so that no two pictures of the face at rest are the same
        picture = np.clip(picture + grain.normal(0, 3, picture.shape), 0, 255).astype(np.uint8)
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        for packet in encoder.encode(frame):
            planes.extend(brightness(decoded).copy() for decoded in decoder.decode(packet))
    for packet in encoder.encode(None):
        planes.extend(brightness(decoded).copy() for decoded in decoder.decode(packet))
    assert len(planes) == len(openings)
    return planes


def _changes(watch: MouthWatch, planes: list[np.ndarray]) -> list[tuple[int, bool]]:
    seen = []
    for index, plane in enumerate(planes):
        change = watch.feed(plane, index / FPS)
        if change is not None:
            seen.append((index, change))
    return seen


def _speaking(frames: int) -> list[float]:
    return [0.5 + 0.5 * math.sin(index * 1.3) for index in range(frames)]


REGION = MediaOptions().mouth_region
assert REGION is not None


def test_a_face_at_rest_never_counts_as_moving_even_when_it_blinks():
    planes = _through_h264([0.0] * 100, blinks={30, 31, 70, 71})
    assert _changes(MouthWatch(REGION), planes) == []


def test_the_mouth_is_seen_moving_from_the_first_opened_frame_and_still_after_its_hangover():
    openings = [0.0] * 50 + _speaking(40) + [0.0] * 40
    planes = _through_h264(openings)
    changes = _changes(MouthWatch(REGION, hangover=0.5), planes)
    assert changes[0] == (50, True)
    (stopped,) = [index for index, moving in changes if not moving]
    assert 90 <= stopped <= 90 + FPS  # within a second of the mouth closing

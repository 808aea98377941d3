"""The video feed on its own: real PyAV frames in, what a frame consumer sees out."""

from __future__ import annotations

import fractions
import threading

import av
import numpy as np
import pytest

import navtalk_sync as nt
from navtalk_sync.rtc.video import VideoFeed, VideoFrame
from tests.helpers import wait_until


def picture(pts: int, colour=(10, 200, 30)) -> av.VideoFrame:
    image = np.zeros((48, 64, 3), np.uint8)
    image[:] = colour
    frame = av.VideoFrame.from_ndarray(image, format="rgb24")
    frame.pts, frame.time_base = pts, fractions.Fraction(1, 90000)
    return frame


@pytest.fixture
def feed():
    feed = VideoFeed()
    feed.start()
    yield feed
    feed.stop(2.0)


def test_timestamps_run_on_across_the_rtp_wrap(feed):
    times = []
    for pts in (2**32 - 7200, 2**32 - 3600, 0, 3600):
        feed.push(picture(pts))
        times.append(feed.latest().timestamp)
    assert times == pytest.approx([0.0, 0.04, 0.08, 0.12])


def test_a_blocked_consumer_gets_the_newest_frame_next_and_the_rest_are_counted(feed):
    release, seen = threading.Event(), []

    def consumer(frame):
        seen.append(frame.index)
        release.wait(5)

    feed.add_callback(consumer)
    feed.push(picture(0))
    wait_until(lambda: seen == [0])
    for n in range(1, 6):
        feed.push(picture(n * 3600))
    release.set()
    wait_until(lambda: len(seen) == 2)
    assert seen == [0, 5]
    assert feed.stats()["video_frames_dropped"] == 4
    assert feed.stats()["video_frame_size"] == (64, 48)


def test_wait_first_times_out_then_returns_the_frame(feed):
    with pytest.raises(nt.NavTalkTimeout, match="first video frame"):
        feed.wait_first(0.05)
    feed.push(picture(0))
    frame = feed.wait_first(1.0)
    assert frame.image.shape == (48, 64, 3)
    assert tuple(frame.image[0, 0]) == pytest.approx((10, 200, 30), abs=3)


def test_save_writes_a_png_and_refuses_other_names(feed, tmp_path):
    feed.push(picture(0, colour=(250, 20, 20)))
    frame = feed.latest()
    frame.save(tmp_path / "face.png")
    with av.open(str(tmp_path / "face.png")) as png:
        image = next(png.decode(video=0)).to_ndarray(format="rgb24")
    assert np.array_equal(image, frame.image)
    with pytest.raises(nt.InvalidArgument, match="png"):
        frame.save(tmp_path / "face.jpg")


def test_a_frame_is_its_picture_to_numpy():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    frame = VideoFrame(image=image, timestamp=0.0, received_at=0.0, index=0)
    assert np.asarray(frame) is image  # no copy unless asked
    assert np.array(frame) is not image and np.array_equal(np.array(frame), image)
    assert np.asarray(frame, dtype=np.float32).dtype == np.float32
    assert np.mean(frame) == image.mean()  # numpy functions take it as it is

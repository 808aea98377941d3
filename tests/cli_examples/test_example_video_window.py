"""examples/video_window.py without a display saves the avatar's frames as PNG files."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import av
import pytest

from tests.helpers import EXAMPLES
from tests.rigs.xvfb import XVFB_MISSING, virtual_display

try:
    import cv2  # noqa: F401

    NO_OPENCV = False
except ImportError:
    NO_OPENCV = True


@pytest.mark.timeout(60)
def test_video_window_example_saves_pictures_when_no_window_can_be_shown(tmp_path):
    hidden = ("NAVTALK_LICENSE", "DISPLAY", "WAYLAND_DISPLAY")  # the headless path
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    folder = tmp_path / "frames"
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "video_window.py"), str(folder), "--every", "10",
         "--seconds", "3"],
        capture_output=True, text=True, timeout=50, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"no window (no display): saving every 10th frame to {folder}"
    summary = re.fullmatch(r"saved (\d+) pictures \(512x512\) of (\d+) frames", lines[1])
    assert summary, lines[1]
    saved, seen = int(summary.group(1)), int(summary.group(2))
    assert saved == seen // 10 and saved >= 2
    pictures = sorted(folder.glob("*.png"))
    assert [p.name for p in pictures] == [f"frame_{n:04d}.png" for n in range(1, saved + 1)]
    for path in pictures:
        with av.open(str(path)) as picture:
            image = next(picture.decode(video=0)).to_ndarray(format="rgb24")
        assert image.shape == (512, 512, 3)
        assert image.std() > 10  # a face, not a blank picture


@pytest.mark.skipif(NO_OPENCV, reason="OpenCV is not installed (pip install opencv-python)")
@pytest.mark.skipif(XVFB_MISSING is not None, reason=str(XVFB_MISSING))
@pytest.mark.timeout(60)
def test_video_window_example_shows_a_window_when_it_can(tmp_path):
    folder = tmp_path / "frames"
    with virtual_display() as display:
        env = {k: v for k, v in os.environ.items() if k != "NAVTALK_LICENSE"}
        env["DISPLAY"] = display
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / "video_window.py"), str(folder), "--seconds", "2"],
            capture_output=True, text=True, timeout=50, env=env,
        )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["showed the avatar for up to 2 s"]
    assert not folder.exists()  # the window, not the PNG files

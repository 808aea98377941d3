"""examples/tk_kiosk.py, a Tkinter window, asks its question and shows the reply under Xvfb."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys

import pytest

from .helpers import EXAMPLES

NO_TK = importlib.util.find_spec("tkinter") is None
NO_XVFB = shutil.which("Xvfb") is None


@contextlib.contextmanager
def virtual_display():
    """A private Xvfb server; yields its DISPLAY value (Xvfb picks a free number itself)."""
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "800x700x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as numbers:
            number = numbers.readline().strip()  # written once the server is ready
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait(10)


@pytest.mark.skipif(NO_TK, reason="tkinter is missing: this Python was built without Tk")
@pytest.mark.skipif(NO_XVFB, reason="Xvfb is missing: install Debian's xvfb package")
@pytest.mark.timeout(90)
def test_tk_kiosk_selftest_shows_the_question_the_reply_and_the_avatar():
    with virtual_display() as display:
        env = {k: v for k, v in os.environ.items() if k != "NAVTALK_LICENSE"}
        env["DISPLAY"] = display
        result = subprocess.run(
            [sys.executable, str(EXAMPLES / "tk_kiosk.py"), "--selftest"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Exception" not in result.stderr  # Tk prints errors in callbacks and goes on
    assert result.stdout.splitlines() == [
        # the transcript area's text, as the window shows it
        "you:    What can you do?",
        "avatar: I can chat with you, answer simple questions and repeat what you say.",
        "showed 10 picture(s) (256x256)",
    ]

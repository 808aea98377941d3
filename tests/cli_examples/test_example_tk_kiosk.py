"""examples/tk_kiosk.py, a Tkinter window, asks its question and shows the reply under Xvfb."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import EXAMPLES
from tests.rigs.xvfb import XVFB_MISSING, virtual_display

try:
    import tkinter  # noqa: F401  (the package exists even where Python was built without Tk)

    NO_TK = False
except ImportError:
    NO_TK = True


@pytest.mark.skipif(NO_TK, reason="tkinter is missing: this Python was built without Tk")
@pytest.mark.skipif(XVFB_MISSING is not None, reason=str(XVFB_MISSING))
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

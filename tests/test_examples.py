"""Every example runs, headless, against the local server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.timeout(60)
def test_minimal_example():
    env = {k: v for k, v in os.environ.items() if k != "NAVTALK_LICENSE"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "minimal.py")],
        capture_output=True,
        text=True,
        timeout=50,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "you:    What can you do?",
        "avatar: I can chat with you, answer simple questions and repeat what you say.",
    ]

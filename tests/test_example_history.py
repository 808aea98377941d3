"""examples/history.py runs against the local server and continues yesterday's conversation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import navtalk_sync as nt

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "history.py"


@pytest.mark.timeout(60)
def test_history_example_remembers_yesterday(tmp_path):
    path = tmp_path / "conversation.json"
    env = {k: v for k, v in os.environ.items() if k != "NAVTALK_LICENSE"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), str(path)],
        capture_output=True,
        text=True,
        timeout=50,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "-- yesterday --",
        "you:    I booked room 12 for two nights.",
        "avatar: You said: I booked room 12 for two nights.",
        "saved 2 turns to conversation.json",
        "-- today --",
        "replayed 1 user turn(s)",
        "you:    Which room did I book?",
        "avatar: Earlier you told me: I booked room 12 for two nights.",
        "saved 4 turns to conversation.json",
    ]
    saved = nt.History.load(path)
    assert [(t.role, t.text) for t in saved] == [
        ("user", "I booked room 12 for two nights."),
        ("assistant", "You said: I booked room 12 for two nights."),
        ("user", "Which room did I book?"),
        ("assistant", "Earlier you told me: I booked room 12 for two nights."),
    ]

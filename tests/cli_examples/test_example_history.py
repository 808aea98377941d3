"""examples/history.py runs against the local server and continues yesterday's conversation."""

from __future__ import annotations

import pytest

import navtalk_sync as nt
from tests.helpers import run_example


@pytest.mark.timeout(60)
def test_history_example_remembers_yesterday(tmp_path):
    path = tmp_path / "conversation.json"
    lines = run_example("history.py", str(path), timeout=50).stdout.splitlines()
    assert lines == [
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

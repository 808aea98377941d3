"""examples/kiosk.py keeps its conversation through a dropped connection."""

from __future__ import annotations

import pytest

from tests.helpers import run_example


@pytest.mark.timeout(60)
def test_kiosk_example_reconnects_and_remembers():
    lines = run_example("kiosk.py", timeout=50).stdout.splitlines()
    assert lines == [
        "visitor: Hello, my name is Ada.",
        "avatar:  Hello! Nice to meet you.",
        "(connection lost; reconnecting)",
        "(back after 1 attempt(s); 1 turn(s) replayed)",
        "visitor: Do you remember my name?",
        "avatar:  Earlier you told me: Hello, my name is Ada.",
        "sessions: 2, reconnects: 1",
        "(the conversation is over: closed)",
    ]

"""examples/tools.py runs against the local server with no licence and books a table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.timeout(90)
def test_tools_example_books_a_table_refuses_a_big_one_and_hangs_up():
    env = {k: v for k, v in os.environ.items() if k != "NAVTALK_LICENSE"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "tools.py")],
        capture_output=True,
        text=True,
        timeout=80,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "you:    Please book a table for 4 at 7pm on the terrace.",
        "avatar: Book table says: booking T-1, table 4 guests at 7pm, terrace.",
        "you:    Book another table for 12 at 8pm.",
        "(tool book_table failed: ValueError: we have no table for more than 8 people)",
        "avatar: Sorry, book table failed: ValueError: we have no table for more than 8 people.",
        "you:    Thanks, you can end the call now.",
        "avatar: End call says: Goodbye, enjoy your meal!",
        "(the avatar hung up)",
        "bookings: [{'guests': 4, 'time': '7pm', 'area': 'terrace'}]",
    ]
    assert result.stderr == ""

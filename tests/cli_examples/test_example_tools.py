"""examples/tools.py runs against the local server with no licence and books a table."""

from __future__ import annotations

import pytest

from tests.helpers import run_example


@pytest.mark.timeout(90)
def test_tools_example_books_a_table_refuses_a_big_one_and_hangs_up():
    result = run_example("tools.py", timeout=80)
    lines = result.stdout.splitlines()
    assert lines == [
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

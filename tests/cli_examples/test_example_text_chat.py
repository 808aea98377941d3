"""examples/text_chat.py chats over lines piped into its standard input."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.helpers import EXAMPLES


def chat(typed: str) -> subprocess.CompletedProcess:
    """Run the example with ``typed`` as its standard input, without a licence."""
    env = {k: v for k, v in os.environ.items() if k != "NAVTALK_LICENSE"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "text_chat.py")],
        input=typed,
        capture_output=True,
        text=True,
        timeout=50,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.timeout(60)
def test_text_chat_answers_each_line_until_quit():
    result = chat("What can you do?\n\nhello there\nquit\nthis is never sent\n")
    assert result.stdout.splitlines() == [
        "you:    What can you do?",
        "avatar: I can chat with you, answer simple questions and repeat what you say.",
        "you:    hello there",  # the empty line between was skipped
        "avatar: Hello! Nice to meet you.",
        "you:    quit",
        "bye",
    ]


@pytest.mark.timeout(60)
def test_text_chat_ends_at_the_end_of_its_input():
    result = chat("repeat after me\n")
    lines = result.stdout.splitlines()
    assert lines[0] == "you:    repeat after me"
    assert lines[1].startswith("avatar: ") and len(lines[1]) > len("avatar: ")
    assert lines[2:] == ["bye"]

"""The pure parts: splitting replies, the rule brain, open admission."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from navtalk_sync.server import (
    BrainRequest,
    Reply,
    RuleBrain,
)
from navtalk_sync.server.frames import split_reply
from tests.server.raw_client import (
    CREATED,
    FAIL,
    GREETING,
    OFFER,
    SUCCESS,
    UPDATED,
    types,
)

pytestmark = pytest.mark.timeout(30)


@given(st.text())
def test_split_reply_concatenates_back(text):
    pieces = split_reply(text)
    assert "".join(pieces) == text
    assert all(piece for piece in pieces)


def test_split_reply_is_word_sized():
    assert split_reply("Hello there,  friend. ") == ["Hello ", "there,  ", "friend. "]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        (None, GREETING),
        ("   ", "Sorry, I did not catch that."),
        (
            "So, what can you do?",
            "I can chat with you, answer simple questions and repeat what you say.",
        ),
        ("What is your name?", "My name is Leo."),
        ("OK, bye!", "Goodbye! Have a nice day."),
        ("Hi there", "Hello! Nice to meet you."),
        ("  Is breakfast included?  ", "You said: Is breakfast included?"),
        ("sea view", "You said: sea view."),
    ],
)
def test_rule_brain(text, answer):
    reply = RuleBrain()(BrainRequest(text=text, avatar_name="navtalk.Leo"))
    assert reply == Reply(answer)


def test_open_server_accepts_any_licence_but_not_none(make_server, connect):
    server = make_server(accept_any_license=True)
    assert types(connect(server, license="anything-goes").until(UPDATED)) == [
        SUCCESS,
        OFFER,
        CREATED,
        UPDATED,
    ]
    fail = connect(server, license=None).recv()
    assert fail["type"] == FAIL and fail["message"].startswith("License missing")

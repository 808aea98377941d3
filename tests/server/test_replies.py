"""Replies: text and audio events, ids, greet-first, the brain."""

from __future__ import annotations

import json
import time

import pytest

from navtalk_sync.server import (
    BrainRequest,
    Reply,
)
from tests.server.raw_client import (
    AUDIO_DONE,
    CREATED,
    DELTA,
    DONE,
    ERROR,
    GREETING,
    IMAGE,
    OFFER,
    RESPONSE_CREATE,
    SUCCESS,
    UPDATED,
    reply_of,
    text_item,
    types,
)

pytestmark = pytest.mark.timeout(30)


def test_text_reply_streams_deltas_then_done_then_audio_done(session):
    frames = session.ask("Is breakfast included?")
    assert types(frames)[-2:] == [DONE, AUDIO_DONE]
    deltas = frames[:-2]
    assert len(deltas) >= 2 and set(types(deltas)) == {DELTA}
    done = frames[-2]["data"]
    assert "".join(d["data"]["content"] for d in deltas) == done["content"] == done["transcript"]
    assert done["content"] == "You said: Is breakfast included?"
    ids = {d["data"]["id"] for d in deltas} | {done["id"], frames[-1]["data"]["id"]}
    assert len(ids) == 1 and ids.pop().startswith("resp_")


def test_each_reply_has_its_own_id(session):
    first, second = session.ask("one"), session.ask("two")
    assert first[-1]["data"]["id"] != second[-1]["data"]["id"]


def test_greet_first(session):
    assert reply_of(session.ask(None)) == GREETING


def test_text_without_response_create_is_not_answered(session):
    session.send(text_item("a silent nudge"))
    session.assert_silent(0.2)
    assert reply_of(session.ask(None)) == "You said: a silent nudge."


def test_response_create_before_ready_is_queued(make_server, connect):
    server = make_server(history_quiet=0.2)
    peer = connect(server)
    peer.send(text_item("early bird"))
    peer.send(RESPONSE_CREATE)
    frames = peer.until(AUDIO_DONE)
    assert types(frames)[:4] == [SUCCESS, OFFER, CREATED, UPDATED]
    assert reply_of(frames) == "You said: early bird."


def test_image_with_reply_asks_for_an_answer(session):
    # IMAGE is a JPEG header without a frame: the server cannot read its size (see
    # tests/client/test_images.py for the answer that names the size of a real picture)
    session.send({"type": "realtime.input_image", "data": {"content": IMAGE, "reply": 1}})
    assert reply_of(session.until(AUDIO_DONE)) == "I could not make out that picture."


def test_brain_sees_config_history_and_avatar(make_server, connect):
    requests: list[BrainRequest] = []

    def brain(request: BrainRequest) -> Reply:
        requests.append(request)
        return Reply("noted")

    server = make_server(brain=brain)
    peer = connect(server, name="navtalk.Mia")
    peer.send(
        {
            "type": "realtime.input_config",
            "data": {"content": json.dumps({"voice": "sage", "prompt": "P"})},
        }
    )
    peer.until(UPDATED)
    assert reply_of(peer.ask("first")) == "noted"
    assert reply_of(peer.ask("second")) == "noted"
    assert requests[-1] == BrainRequest(
        text="second",
        history=("first", "second"),
        voice="sage",
        prompt="P",
        avatar_name="navtalk.Mia",
    )


def test_brain_may_return_a_plain_string(make_server, connect):
    server = make_server(brain=lambda request: "plain text")
    peer = connect(server)
    peer.until(UPDATED)
    assert reply_of(peer.ask("x")) == "plain text"


def test_brain_returning_none_gives_no_reply(make_server, connect):
    answers = iter([None, "second answer"])
    server = make_server(brain=lambda request: next(answers))
    peer = connect(server)
    peer.until(UPDATED)
    peer.send(RESPONSE_CREATE)
    frames = peer.ask("again")
    assert types(frames)[0] == DELTA and reply_of(frames) == "second answer"


def test_brain_raising_gives_an_error_and_the_session_goes_on(make_server, connect):
    calls = []

    def brain(request: BrainRequest) -> str:
        calls.append(request)
        if len(calls) == 1:
            raise ValueError("boom")
        return "recovered"

    server = make_server(brain=brain)
    peer = connect(server)
    peer.until(UPDATED)
    peer.send(text_item("hi"))
    peer.send(RESPONSE_CREATE)
    error = peer.recv()
    assert error["type"] == ERROR and "boom" in error["message"]
    assert error["data"]["code"] == "response_failed" and error["data"]["id"].startswith("resp_")
    assert reply_of(peer.ask("again")) == "recovered"


def test_delta_interval_spaces_the_deltas(make_server, connect):
    server = make_server(delta_interval=0.05)
    peer = connect(server)
    peer.until(UPDATED)
    started = time.monotonic()
    frames = peer.ask("one two three four")
    assert len([f for f in frames if f["type"] == DELTA]) == 6
    assert time.monotonic() - started >= 0.2  # five gaps of 0.05 s

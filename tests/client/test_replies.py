"""The one place that decides when a reply starts and ends: ``replies.ReplyTracker``."""

from __future__ import annotations

import threading
import time

import pytest

import navtalk_sync as nt
from navtalk_sync import events as ev
from navtalk_sync.replies import ReplyTracker

pytestmark = pytest.mark.timeout(30)


def event(kind: str, **data: object) -> ev.Event:
    return ev.parse_event({"type": f"realtime.response.{kind}", "data": data})


def test_a_reply_asked_for_is_owed_until_its_audio_ends():
    finished: list[str] = []
    replies = ReplyTracker(on_reply=lambda text, interrupted: finished.append(text))
    replies.asked()
    assert replies.pending == 1
    replies.observe(event("audio_transcript.delta", content="Hel", response_id="r1"))
    replies.observe(event("audio_transcript.delta", content="lo", response_id="r1"))
    replies.observe(event("audio_transcript.done", response_id="r1"))
    assert replies.pending == 1 and finished == ["Hello"]  # the text is done, the voice not
    replies.observe(event("audio.done", response_id="r1"))
    assert replies.pending == 0 and finished == ["Hello"]  # each reply's text once


def test_an_error_ends_a_reply_and_a_new_session_owes_nothing():
    replies = ReplyTracker()
    replies.asked()
    replies.asked()
    replies.observe(event("error", message="overloaded"))
    assert replies.pending == 1
    replies.new_session()
    assert replies.pending == 0
    replies.observe(event("audio.done"))  # a late end of an old reply owes nothing back
    assert replies.pending == 0


def test_wait_quiet_returns_after_the_grace_and_waits_while_a_reply_is_owed():
    replies = ReplyTracker()
    replies.wait_quiet(grace=0.05, timeout=5)
    replies.asked()
    with pytest.raises(nt.NavTalkTimeout, match="the avatar to finish speaking"):
        replies.wait_quiet(grace=0.05, timeout=0.3)
    threading.Timer(0.2, replies.observe, [event("audio.done")]).start()
    replies.wait_quiet(grace=0.05, timeout=10)
    assert replies.pending == 0


def test_close_wakes_a_wait_at_once():
    replies = ReplyTracker()
    replies.asked()
    threading.Timer(0.2, replies.close).start()
    started = time.monotonic()
    with pytest.raises(nt.NotConnected):
        replies.wait_quiet(grace=1, timeout=20)
    assert time.monotonic() - started < 10  # woken, not timed out


def _cut_tracker():
    given: list[tuple[str, bool]] = []
    marked: list[int] = []
    replies = ReplyTracker(
        on_reply=lambda text, interrupted: given.append((text, interrupted)),
        on_cut_recorded=lambda: marked.append(len(given)),
    )
    return replies, given, marked


def test_a_cut_marks_the_reply_whose_text_is_still_to_come():
    replies, given, marked = _cut_tracker()
    replies.asked()
    assert replies.cut() is True  # owed, not begun
    replies.observe(event("audio_transcript.done", content="One", response_id="r1"))
    replies.observe(event("audio.done", response_id="r1"))
    replies.asked()
    replies.observe(event("audio_transcript.done", content="Two", response_id="r2"))
    assert given == [("One", True), ("Two", False)] and marked == []


def test_a_cut_between_a_replys_text_and_its_end_marks_that_reply_not_the_next():
    replies, given, marked = _cut_tracker()
    replies.asked()
    replies.observe(event("audio_transcript.done", content="One", response_id="r1"))
    assert replies.cut() is True  # open (its audio.done to come), its text given
    assert marked == [1]  # "One", already recorded, is the one marked
    replies.observe(event("audio.done", response_id="r1"))
    replies.asked()
    replies.observe(event("audio_transcript.done", content="Two", response_id="r2"))
    assert given == [("One", False), ("Two", False)]


def test_a_cut_reply_that_fails_or_a_new_session_leaves_the_next_reply_unmarked():
    replies, given, _ = _cut_tracker()
    replies.asked()
    replies.cut()
    replies.observe(ev.parse_event({"type": "realtime.response.error", "data": {"message": "x"}}))
    replies.asked()
    replies.observe(event("audio_transcript.done", content="After", response_id="r2"))
    replies.asked()
    replies.cut()
    replies.new_session()
    replies.asked()
    replies.observe(event("audio_transcript.done", content="Fresh", response_id="r3"))
    assert given == [("After", False), ("Fresh", False)]


def test_with_nothing_open_a_cut_marks_the_last_reply_given():
    replies, _, marked = _cut_tracker()
    replies.observe(event("audio_transcript.done", content="One", response_id="r1"))
    replies.observe(event("audio.done", response_id="r1"))
    assert replies.open is False and replies.cut() is None and marked == [1]

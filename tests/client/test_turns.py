"""``talk()``, the spoken twin of ``ask()``, and the ``client.turn`` report of every reply:
what was heard, what was answered, and when each moment came (seconds from the end of the
user's turn; None when not seen)."""

from __future__ import annotations

import pytest

from navtalk_sync import events as ev
from tests.helpers import SENTENCE, client_for, question_wav, spoken, wait_until


def _in_order(*moments: float | None) -> bool:
    known = [m for m in moments if m is not None]
    return known == sorted(known)


@pytest.mark.timeout(90)
def test_talk_sends_a_recording_and_returns_what_was_heard_and_answered(server, tmp_path):
    with client_for(server) as client:
        client.connect(timeout=10)
        client.wait_for_video(timeout=10)
        turn = client.talk(question_wav(tmp_path), timeout=40)
        reports = client.stats()["turns"]
    assert isinstance(turn, ev.TurnReport) and turn.type == "client.turn"
    assert len(set(SENTENCE.split()) - set((turn.heard or "").split())) <= 2
    assert turn.reply is not None and turn.reply.startswith("You said:")
    for moment in ("speech_stopped", "transcript", "first_text", "audio_done"):
        assert getattr(turn, moment) is not None, moment
    assert turn.first_voice is not None and turn.voice_ended is not None  # the voice was heard
    assert _in_order(turn.transcript, turn.first_text, turn.audio_done)
    assert _in_order(turn.first_voice, turn.voice_ended)
    # the local face's mouth moves with its voice: seen in the picture, near the first sound
    assert turn.mouth_moving is not None and turn.first_text is not None
    assert turn.first_text <= turn.mouth_moving < turn.voice_ended
    assert reports[-1] == turn.figures()


@pytest.mark.timeout(60)
def test_talk_takes_samples_too_and_without_media_reports_no_voice(server):
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        turn = client.talk(spoken(SENTENCE), timeout=40, sample_rate=48000)
    assert turn.reply is not None and turn.reply.startswith("You said:")
    assert turn.audio_done is not None
    assert turn.first_voice is None and turn.voice_ended is None  # no audio track: not seen
    assert turn.mouth_moving is None  # no picture: not seen


def test_every_reply_is_reported_as_a_client_turn_event(server):
    reports: list[ev.TurnReport] = []
    with client_for(server, media=False) as client:
        client.on("client.turn", reports.append)
        client.connect(timeout=10)
        answer = client.ask("What can you do?", timeout=10)
        wait_until(lambda: len(reports) == 1, timeout=10)
    (turn,) = reports
    assert turn.heard == "What can you do?" and turn.reply == answer
    assert turn.speech_stopped is None and turn.transcript is None  # typed: nothing to hear
    assert _in_order(0.0, turn.first_text, turn.audio_done)


@pytest.mark.parametrize("audio_done_after_tool_call", [False, True])
def test_a_turn_through_a_tool_reports_the_answer_after_the_tool(
    make_server, audio_done_after_tool_call
):
    server = make_server(audio_done_after_tool_call=audio_done_after_tool_call)
    reports: list[ev.TurnReport] = []
    with client_for(server, media=False) as client:

        @client.tool
        def book_table(guests: int, time: str) -> str:
            """Book a table."""
            return f"booked for {guests} at {time}"

        client.on("client.turn", reports.append)
        client.connect(timeout=10)
        answer = client.ask("book a table for 4 at 7pm", timeout=20)
        wait_until(lambda: any(r.reply == answer for r in reports), timeout=10)
    spoken_reports = [r for r in reports if r.reply is not None]
    assert [r.reply for r in spoken_reports] == [answer]
    assert "booked for 4 at 7pm" in answer
    assert spoken_reports[0].first_text is not None  # timed from the question, not the tool


@pytest.mark.timeout(120)
def test_talk_returns_its_own_turn_while_an_earlier_reply_still_plays(server, tmp_path):
    question = question_wav(tmp_path)
    with client_for(server) as client:
        client.connect(timeout=10)
        client.wait_for_video(timeout=10)
        client.ask("What can you do?", timeout=10)  # its voice plays on after ask() returns
        first = client.talk(question, timeout=60)
        second = client.talk(question, timeout=60)
    for turn in (first, second):
        assert turn.reply is not None and turn.reply.startswith("You said:")
        assert len(set(SENTENCE.split()) - set((turn.heard or "").split())) <= 2
        assert turn.speech_stopped is not None and turn.transcript is not None
    assert first.turn < second.turn


@pytest.mark.timeout(60)
def test_without_a_mouth_region_the_mouth_is_not_measured(server):
    with client_for(server, mouth_region=None) as client:
        client.connect(timeout=10)
        client.wait_for_video(timeout=10)
        client.ask("Say something", timeout=20)
        wait_until(lambda: client.stats()["turns"], timeout=20)
        (turn,) = client.stats()["turns"]
    assert turn["first_voice"] is not None and turn["mouth_moving"] is None


@pytest.mark.timeout(60)
def test_the_mouth_is_seen_moving_in_a_reply_asked_for_at_the_first_frame(server):
    # the video's first second, sharpening as the encoder settles, must not hide the mouth
    with client_for(server) as client:
        client.connect(timeout=10)
        client.wait_for_video(timeout=10)
        with client.expect(ev.TurnReport) as report:
            client.ask("What can you do?", timeout=20)
        turn = report.result(timeout=30)
    assert isinstance(turn, ev.TurnReport) and turn.first_voice is not None
    assert turn.mouth_moving is not None and turn.mouth_moving < turn.voice_ended

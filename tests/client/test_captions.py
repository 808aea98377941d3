"""The conversation's lines for a recording's subtitles (captions.py), from events made here:
pure, no threads."""

from __future__ import annotations

import time

from navtalk_sync.captions import UNSEEN_START, Captions
from navtalk_sync.events import SpeechStarted, TurnReport


def _captions():
    cues: list[tuple[float, float, str, str]] = []
    return Captions(lambda *cue: cues.append(cue)), cues


def test_a_typed_turn_and_its_reply():
    captions, cues = _captions()
    captions.on_event(TurnReport(turn=1, heard="Hi", reply="Hello.", first_voice=0.5,
                                 voice_ended=2.0, origin=100.0))  # fmt: skip
    assert cues == [(100.0, 100.5, "user", "Hi"), (100.5, 102.0, "avatar", "Hello.")]


def test_a_barge_in_keeps_each_spoken_turn_its_own_start():
    captions, cues = _captions()
    captions.on_event(SpeechStarted(type=SpeechStarted.TYPE))  # turn 1 starts
    first_start = captions._speech_starts[-1]
    time.sleep(0.01)
    stopped = time.monotonic()  # turn 1's speech stops; its reply starts
    report = TurnReport(turn=1, heard="one", reply="You said: one.", speech_stopped=0.0,
                        first_voice=0.5, voice_ended=3.0, origin=stopped)  # fmt: skip
    time.sleep(0.01)
    captions.on_event(
        SpeechStarted(type=SpeechStarted.TYPE)
    )  # the user talks over reply 1, before its report
    barge_start = captions._speech_starts[-1]
    captions.on_event(report)
    captions.on_event(TurnReport(turn=2, heard="two", speech_stopped=0.0, origin=barge_start + 1))
    users = [cue for cue in cues if cue[2] == "user"]
    assert users[0][0] == first_start and users[1][0] == barge_start


def test_a_spoken_turn_whose_start_was_not_seen_is_shown_before_its_stop():
    captions, cues = _captions()
    captions.on_event(TurnReport(turn=3, heard="late", speech_stopped=0.0, origin=50.0))
    assert cues == [(50.0 - UNSEEN_START, 50.0, "user", "late")]


def test_a_turn_with_two_replies_is_captioned_once_for_the_user():
    captions, cues = _captions()
    for reply in ("Calling the tool.", "It is sunny."):
        captions.on_event(TurnReport(turn=4, heard="Weather?", reply=reply, first_text=0.2,
                                     audio_done=1.0, origin=10.0))  # fmt: skip
    assert [cue[2] for cue in cues] == ["user", "avatar", "avatar"]

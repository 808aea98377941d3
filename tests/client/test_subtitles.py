"""The subtitles' text (rtc/subtitles.py): pure functions, checked on cues made here."""

from __future__ import annotations

import itertools

from navtalk_sync.rtc.subtitles import MIN_CUE_SECONDS, Cue, mov_text, track_cues, webvtt


def test_webvtt_escapes_markup_and_keeps_each_cue_on_one_line():
    text = webvtt([Cue(61.5, 63.25, "user", "a <b> & c\n\nd --> e")])
    assert text.splitlines() == [
        "WEBVTT",
        "",
        "00:01:01.500 --> 00:01:03.250",
        "<v user>a &lt;b&gt; &amp; c d --&gt; e",
    ]


def test_a_short_cue_is_shown_long_enough_to_read():
    (cue,) = track_cues([Cue(1.0, 1.2, "avatar", "Hi.")])
    assert cue.end - cue.start == MIN_CUE_SECONDS and cue.text == "avatar: Hi."


def test_a_text_track_shows_one_cue_at_a_time_and_keeps_cues_that_start_together():
    cues = track_cues([
        Cue(0.0, 4.0, "avatar", "a long reply"),
        Cue(0.0, 1.0, "user", "typed"),
        Cue(2.0, 3.0, "user", "said over it"),
    ])  # fmt: skip
    assert [cue.text.split(":")[0] for cue in cues] == ["avatar", "user", "user"]
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))
    assert all(cue.end > cue.start for cue in cues)


def test_mov_text_is_the_texts_utf8_length_then_the_text_cut_whole():
    assert mov_text("é") == b"\x00\x02\xc3\xa9"
    long = mov_text("é" * 40000)  # 80,000 bytes: cut to whole characters under 64 KiB
    assert int.from_bytes(long[:2], "big") == len(long) - 2 <= 65535
    long[2:].decode("utf-8")

"""The rule for how long the speaker stays silent after interrupt() (rtc/hush.py), on a
clock the test moves: pure state, no threads."""

from __future__ import annotations

from navtalk_sync.rtc.hush import QUIET_SECONDS, Hush
from navtalk_sync.turns import VOICE_WAIT


def test_a_reply_cut_while_speaking_stays_silent_through_its_pauses_until_it_ends():
    hush = Hush()
    hush.start(reply_open=True, speaking=True, now=0.0)
    assert hush.silent(speaking=False, now=1.0)  # a pause between sentences
    assert hush.silent(speaking=False, now=1.0 + QUIET_SECONDS * 2)  # still not ended
    assert hush.silent(speaking=True, now=3.0)
    hush.reply_ended(now=4.0)
    assert hush.silent(speaking=True, now=5.0)  # its voice still plays out
    assert hush.silent(speaking=False, now=6.0)
    assert not hush.silent(speaking=False, now=6.0 + QUIET_SECONDS)  # quiet: the next plays
    assert not hush.active


def test_a_reply_cut_before_its_voice_keeps_its_voice_from_the_speaker():
    hush = Hush()
    hush.start(reply_open=True, speaking=False, now=0.0)
    hush.reply_ended(now=0.5)  # its text and audio.done came, its voice not yet
    assert hush.silent(speaking=False, now=0.5 + QUIET_SECONDS * 2)
    assert hush.silent(speaking=True, now=3.0)  # the voice comes late: still silenced
    assert hush.silent(speaking=False, now=3.1)
    assert not hush.silent(speaking=False, now=3.1 + QUIET_SECONDS + 0.01)


def test_the_users_next_turn_ends_the_silence_once_the_cut_reply_has_ended():
    hush = Hush()
    hush.start(reply_open=True, speaking=True, now=0.0)
    hush.user_turn()  # too early: the cut reply is still coming
    assert hush.silent(speaking=True, now=0.5)
    hush.reply_ended(now=1.0)
    hush.user_turn()
    assert not hush.silent(speaking=True, now=1.1)


def test_a_reply_with_no_voice_releases_the_speaker_after_the_voice_wait():
    hush = Hush()
    hush.start(reply_open=False, speaking=False, now=0.0)
    assert hush.silent(speaking=False, now=VOICE_WAIT - 0.1)
    assert not hush.silent(speaking=False, now=VOICE_WAIT + 0.1)


def test_a_new_session_clears_a_hush():
    hush = Hush()
    hush.start(reply_open=True, speaking=True, now=0.0)
    hush.clear()
    assert not hush.silent(speaking=True, now=0.1)

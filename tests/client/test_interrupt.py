"""``client.interrupt()``: the avatar stopped from code, as a stop button would. The library's
speaker goes silent at once and stays so while the server goes on sending the reply (the
protocol has no message to stop it); the reply is marked in the history and an event says so.
Real WebRTC from the local server, the speaker on the ALSA file device of tests/rigs/alsa.py.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import navtalk_sync as nt
from tests.helpers import client_for, wait_until
from tests.rigs import alsa

pytestmark = pytest.mark.timeout(90)

LONG_QUESTION = (
    "Please tell me everything about the history of the old lighthouse by the harbour, "
    "who built it, when it was first lit and why the keepers left it"
)


def _replies(history: nt.History) -> list[nt.Turn]:
    return [turn for turn in history.turns() if turn.kind == "reply"]


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2))) if samples.size else 0.0


def test_interrupt_silences_the_speaker_while_the_reply_goes_on_arriving(server, alsa_rig):
    loud_received: list[float] = []
    with client_for(server, speaker=alsa.SPEAKER) as client:
        cut: list[nt.events.ReplyInterrupted] = []
        client.on("client.interrupted", cut.append)
        client.connect(timeout=20)
        client.wait_for_video(timeout=20)
        client.on_avatar_audio(
            lambda chunk: _rms(chunk.pcm) > 300 and loud_received.append(time.monotonic())
        )
        client.send_text(LONG_QUESTION)
        wait_until(lambda: len(loud_received) > 50, timeout=30)  # a second of its voice
        assert len(alsa_rig.read_speaker()) > 0
        assert client.interrupt() is True
        interrupted_at = time.monotonic()
        played_then = len(alsa_rig.read_speaker())
        time.sleep(3.0)
        after = alsa_rig.read_speaker()[played_then + alsa.SPEAKER_RATE // 2 :]  # its buffer
        speaker = client.stats()["speaker"]
        client.wait_until_quiet(timeout=30)
        history = _replies(client.history)
    # the server went on sending the reply's voice; the loudspeaker played none of it
    assert sum(at > interrupted_at + 0.5 for at in loud_received) > 50
    assert len(after) > alsa.SPEAKER_RATE and _rms(after) < 30, _rms(after)
    assert speaker["flushes"] >= 1
    assert [event.by for event in cut] == ["interrupt"] and cut[0].speaking is True
    assert history[-1].interrupted is True and history[-1].text.startswith("You said:")


def test_the_speaker_plays_the_next_reply_after_an_interrupt(server, alsa_rig):
    with client_for(server, speaker=alsa.SPEAKER) as client:
        client.connect(timeout=20)
        client.wait_for_video(timeout=20)
        with client.events("client.turn") as turns:
            client.send_text(LONG_QUESTION)
            wait_until(lambda: client.stats()["speaker"]["played_ms"] > 1000, timeout=30)
            client.interrupt()
            turns.get(timeout=30)  # the cut reply's voice has ended
        played_then = len(alsa_rig.read_speaker())
        assert client.ask("Hello", timeout=30)
        wait_until(
            lambda: _rms(alsa_rig.read_speaker()[played_then:]) > 100,
            timeout=15,
            what="the next reply heard",
        )
        replies = _replies(client.history)
    assert [reply.interrupted for reply in replies] == [True, False]


def test_a_reply_interrupted_before_its_voice_is_never_heard(server, alsa_rig):
    loud_received: list[float] = []
    with client_for(server, speaker=alsa.SPEAKER) as client:
        client.connect(timeout=20)
        client.wait_for_video(timeout=20)
        client.on_avatar_audio(
            lambda chunk: _rms(chunk.pcm) > 300 and loud_received.append(time.monotonic())
        )
        played_then = len(alsa_rig.read_speaker())
        with client.events("client.turn") as turns:
            client.send_text(LONG_QUESTION)
            assert client.interrupt() is True  # asked for, not begun
            turns.get(timeout=60)  # its voice came and ended
        time.sleep(0.5)
        heard = alsa_rig.read_speaker()[played_then:]
        replies = _replies(client.history)
    assert len(loud_received) > 100  # the voice arrived ...
    assert _rms(heard) < 30, _rms(heard)  # ... and the loudspeaker played none of it
    assert [reply.interrupted for reply in replies] == [True]


def test_interrupt_with_nothing_to_cut_does_nothing(server):
    with client_for(server) as client:
        with pytest.raises(nt.NotConnected):
            client.interrupt()
        cut: list = []
        client.on("client.interrupted", cut.append)
        client.connect(timeout=20)
        assert client.interrupt() is False
        with client.events("client.turn") as turns:
            assert client.ask("Hello", timeout=30)
            turns.get(timeout=30)  # its voice has ended too
        assert client.interrupt() is False
        replies = _replies(client.history)
    assert cut == [] and [reply.interrupted for reply in replies] == [False]


def test_an_interrupted_reply_is_kept_as_such_in_a_saved_history(tmp_path):
    history = nt.History()
    history.add_reply("You said: one")
    history.mark_last_reply_interrupted()
    history.add_reply("You said: two", interrupted=True)
    history.add_reply("You said: three")
    path = tmp_path / "history.json"
    history.save(path)
    loaded = nt.History.load(path)
    assert [(t.text, t.interrupted) for t in _replies(loaded)] == [
        ("You said: one", True),
        ("You said: two", True),
        ("You said: three", False),
    ]

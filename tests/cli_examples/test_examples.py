"""Every example runs, headless, against the local server."""

from __future__ import annotations

import av
import numpy as np
import pytest

from tests.helpers import SENTENCE, mouth_darkness, question_wav, run_example, spoken


@pytest.mark.timeout(60)
def test_minimal_example():
    lines = run_example("minimal.py", timeout=50).stdout.splitlines()
    assert lines == [
        "you:    What can you do?",
        "avatar: I can chat with you, answer simple questions and repeat what you say.",
    ]


@pytest.mark.timeout(90)
def test_face_and_voice_example_saves_a_speaking_face_and_a_recording(tmp_path):
    lines = run_example("face_and_voice.py", str(tmp_path), timeout=80).stdout.splitlines()
    assert lines[0].startswith("avatar: I can chat with you")
    with av.open(str(tmp_path / "avatar.png")) as picture:
        image = next(picture.decode(video=0)).to_ndarray(format="rgb24")
    assert image.shape == (512, 512, 3)
    assert mouth_darkness(image) > 0.1  # taken mid-sentence: the mouth is open
    with av.open(str(tmp_path / "avatar.mp4")) as recording:
        assert recording.streams.video and recording.streams.audio
        assert recording.duration / av.time_base > 2


@pytest.mark.timeout(90)
def test_voice_chat_example_hears_a_spoken_question_and_answers_it(alsa_rig):
    """The default microphone and speaker are the test rig's virtual devices."""
    alsa_rig.write_mic(spoken(SENTENCE), pad_seconds=10.0)
    lines = run_example("voice_chat.py", "12", timeout=80).stdout.splitlines()
    assert lines[0].startswith("Speak now")
    you = next(line for line in lines if line.startswith("you:"))
    assert len(set(SENTENCE.split()) - set(you.split())) <= 2
    avatar = next(line for line in lines if line.startswith("avatar:"))
    assert "You said:" in avatar
    played = alsa_rig.read_speaker()
    assert np.sqrt(np.mean(played.astype(np.float64) ** 2)) > 100  # the answer was heard


@pytest.mark.timeout(60)
def test_collect_reply_example_prints_the_whole_reply():
    lines = run_example("collect_reply.py", timeout=50).stdout.splitlines()
    assert lines == [
        "avatar: I can chat with you, answer simple questions and repeat what you say."
    ]


@pytest.mark.timeout(90)
def test_spoken_question_example_hears_a_wav_and_answers_it(tmp_path):
    path = question_wav(tmp_path)
    lines = run_example("spoken_question.py", path, timeout=80).stdout.splitlines()
    heard = lines[0].removeprefix("you:").split()
    assert len(set(SENTENCE.split()) - set(heard)) <= 2
    assert lines[1].startswith("avatar: You said:")


@pytest.mark.timeout(120)
def test_talk_example_answers_a_wav_and_prints_its_timings(tmp_path):
    path = question_wav(tmp_path)
    lines = run_example("talk.py", path, timeout=100).stdout.splitlines()
    heard = lines[0].removeprefix("you:").split()
    assert len(set(SENTENCE.split()) - set(heard)) <= 2
    assert lines[1].startswith("avatar: You said:")
    timings = dict(line.strip().split(": ") for line in lines[2:])
    assert set(timings) == {"speech_stopped", "transcript", "first_text", "first_voice",
                            "mouth_moving", "voice_ended"}  # fmt: skip
    assert all(value.endswith(" s") for value in timings.values())  # each one was seen

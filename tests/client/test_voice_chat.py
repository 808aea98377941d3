"""Talking with your voice, end to end: a spoken sentence into a virtual microphone, through
``start_microphone()`` and the socket, heard and answered by the local server's offline voice
loop (pocketsphinx and eSpeak NG). Real PyAudio on virtual devices, real loopback server.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import SENTENCE, client_for, spoken, wait_until
from tests.rigs import alsa

pytestmark = pytest.mark.timeout(90)


def words_heard(event) -> set[str]:
    return set((event.text or "").lower().split())


def test_a_sentence_into_the_paced_microphone_is_heard_and_answered(server, pulse_rig):
    with client_for(server, media=False) as client:
        heard = client.events("realtime.conversation.item.input_audio_transcription.completed")
        replies = client.events("realtime.response.audio_transcript.done")
        client.connect(timeout=10)
        client.start_microphone(device=alsa.PACED_INPUT)
        # PulseAudio's first read takes about 2 s to return: let the stream start first
        wait_until(lambda: client.stats()["microphone"]["captured_ms"] > 0, timeout=15)
        pulse_rig.play(spoken(SENTENCE)).wait(30)
        transcription = heard.get(timeout=30)
        reply = replies.get(timeout=30)

    expected = set(SENTENCE.split())
    assert len(expected - words_heard(transcription)) <= 2  # a small word error is allowed
    assert reply.text.startswith("You said:")


def test_the_exact_microphone_feeds_the_server_what_was_captured(server, alsa_rig):
    sentence = spoken(SENTENCE)
    alsa_rig.write_mic(sentence, pad_seconds=2.0)
    with client_for(server, media=False) as client:
        heard = client.events("realtime.conversation.item.input_audio_transcription.completed")
        client.connect(timeout=10)
        client.start_microphone(device=alsa.MIC)
        transcription = heard.get(timeout=30)
        assert client.stop_microphone() is True
        assert client.stop_microphone() is False
    assert len(set(SENTENCE.split()) - words_heard(transcription)) <= 2
    received = np.frombuffer(server.received_audio(), "<i2").astype(np.float64)
    # on the wire at 24 kHz: at least up to the end of the speech, which is loud in it
    loud = np.flatnonzero(np.abs(sentence) > 1000)
    speech_end = loud[-1] / 48000
    assert len(received) / 24000 >= speech_end
    assert np.sqrt(np.mean(received**2)) > 300


def test_mute_sends_silence_and_unmute_speech(server, alsa_rig):
    alsa_rig.write_mic(spoken(SENTENCE), pad_seconds=2.0)
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        client.mute()
        client.start_microphone(device=alsa.MIC)
        wait_until(lambda: client.stats()["microphone"]["sent_ms"] > 2500, timeout=15)
        received = np.frombuffer(server.received_audio(), "<i2")
        assert client.stats()["microphone"]["user_muted"] is True
    assert len(received) > 0
    assert not received.any()  # the sentence was captured but only silence went out


def test_half_duplex_mutes_the_microphone_while_the_avatar_speaks(server, alsa_rig):
    alsa_rig.clear_mic(pad_seconds=30.0)
    with client_for(server, half_duplex=True) as client:
        client.connect(timeout=10)
        client.wait_for_video(timeout=10)
        client.start_microphone(device=alsa.MIC)
        assert client.stats()["microphone"]["muted"] is False
        client.send_text("What can you do?")
        wait_until(lambda: client.stats()["microphone"]["muted"], timeout=15)
        assert client.stats()["microphone"]["user_muted"] is False
        wait_until(lambda: not client.stats()["microphone"]["muted"], timeout=30)


def test_an_unknown_microphone_is_refused_and_the_session_goes_on(server):
    import navtalk_sync as nt

    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        with pytest.raises(nt.InvalidArgument, match="input"):
            client.start_microphone(device="no such microphone")
        assert client.ask("hello", timeout=10) == "Hello! Nice to meet you."

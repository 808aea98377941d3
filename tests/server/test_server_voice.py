"""The local server's offline voice loop: VAD, recognition, eSpeak NG voice, barge-in,
transparency mode and the received audio.

Real parts only: eSpeak NG speaks the user's sentence, which goes up a plain websocket-client
connection as ``input_audio_buffer.append`` chunks; pocketsphinx on the server hears it. Media
checks answer the server's offer with a real aiortc peer (``tests/server/test_server_media.py``).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from typing import Any
from urllib.parse import quote, urlencode

import numpy as np
import pytest
import websocket

from navtalk_sync.rtc.ice import host_candidate_restriction, restrict_host_candidates
from navtalk_sync.server import EspeakVoice, LocalServer, ToneVoice, ear, espeak
from navtalk_sync.server.samples import resample
from navtalk_sync.server.server_session import NO_RECOGNIZER_MESSAGE
from navtalk_sync.server.vad import SPEECH_STARTED, SPEECH_STOPPED, EnergyVad, VadEvent
from tests.helpers import wait_until
from tests.rigs.raw_peer import SILENT, Signaling

pytestmark = pytest.mark.timeout(60)

UPDATED = "realtime.session.updated"
OFFER = "webrtc.signaling.offer"
STARTED = "realtime.input_audio_buffer.speech_started"
STOPPED = "realtime.input_audio_buffer.speech_stopped"
HEARD = "realtime.conversation.item.input_audio_transcription.completed"
DELTA = "realtime.response.audio_transcript.delta"
DONE = "realtime.response.audio_transcript.done"
AUDIO_DONE = "realtime.response.audio.done"
ERROR = "realtime.response.error"
RATE = 24000
CHUNK = 1536  # samples: 4096 base64 characters, like the browser clients' pieces
SENTENCE = "what is the weather like today"


# --------------------------------------------------------------------------- helpers


def spoken(text: str, lead: float = 0.3, tail: float = 1.0) -> np.ndarray:
    """``text`` said by eSpeak NG, at 24 kHz, with silence before and after."""
    samples, rate = EspeakVoice()(text)
    speech = resample(samples, rate, RATE)
    return np.concatenate(
        [np.zeros(round(lead * RATE), np.int16), speech, np.zeros(round(tail * RATE), np.int16)]
    )


def append_messages(samples: np.ndarray) -> list[dict[str, Any]]:
    pieces = [samples[i : i + CHUNK].astype("<i2").tobytes() for i in range(0, samples.size, CHUNK)]
    return [
        {
            "type": "realtime.input_audio_buffer.append",
            "data": {"audio": base64.b64encode(p).decode("ascii")},
        }
        for p in pieces
    ]


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


#: The word error allowed on the six-word sentence. eSpeak NG is not deterministic, and one
#: word heard as two ("today" as "to a") already counts twice in the edit distance.
MAX_WORD_ERRORS = 2


def word_errors(heard: str, said: str) -> int:
    """Word-level edit distance."""
    a, b = words(heard), words(said)
    row = list(range(len(b) + 1))
    for i, word in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1]


def tone(seconds: float, level: float, frequency: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return np.round(level * 32767 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)


def feed_in_chunks(vad: EnergyVad, samples: np.ndarray) -> list[VadEvent]:
    found: list[VadEvent] = []
    for start in range(0, samples.size, CHUNK):
        found += vad.feed(samples[start : start + CHUNK])
    return found


@pytest.fixture(autouse=True)
def loopback_only():
    before = host_candidate_restriction()
    restrict_host_candidates(["127.0.0.1"])
    yield
    restrict_host_candidates(before)


@pytest.fixture
def connect():
    sockets: list[websocket.WebSocket] = []

    def open_signaling(server: LocalServer, **params: str) -> Signaling:
        query = {"license": server.license, "name": "navtalk.Leo", **params}
        ws = websocket.create_connection(
            f"{server.url}?{urlencode(query, quote_via=quote)}", timeout=15
        )
        sockets.append(ws)
        return Signaling(ws)

    yield open_signaling
    for ws in sockets:
        ws.close(timeout=0.5)


def with_media(server: LocalServer, signaling: Signaling, answerer) -> Any:
    """Answer the offer with a real aiortc peer; returns it once audio frames flow."""
    client = answerer()
    signaling.answer(client.answer(signaling.offer_sdp()))
    signaling.until(UPDATED)
    server.wait_for_ice()
    wait_until(lambda: min(client.counts()) >= 5, what="frames arriving")
    return client


def send_all(signaling: Signaling, samples: np.ndarray) -> None:
    for message in append_messages(samples):
        signaling.send(message)


# --------------------------------------------------------------------------- VAD


def test_vad_hears_nothing_in_silence_or_low_noise():
    vad = EnergyVad()
    noise = np.random.default_rng(1).normal(0, 100, 5 * RATE).astype(np.int16)  # about -50 dBFS
    assert feed_in_chunks(vad, np.zeros(3 * RATE, np.int16)) == []
    assert feed_in_chunks(vad, noise) == []
    assert not vad.speaking


def test_vad_tone_burst_starts_and_stops_where_the_sound_is():
    vad = EnergyVad(start_ms=120, stop_ms=600)
    silence = np.zeros(RATE, np.int16)
    audio = np.concatenate([silence, tone(1.0, 0.3), silence])
    # Not confirmed before 120 ms of sound ...
    assert vad.feed(audio[: RATE + RATE * 100 // 1000]) == []
    assert vad.feed(audio[RATE + RATE * 100 // 1000 : 2 * RATE]) == [VadEvent(SPEECH_STARTED, RATE)]
    # ... nor the end before 600 ms of quiet.
    assert vad.feed(audio[2 * RATE : 2 * RATE + RATE // 2]) == []
    assert vad.feed(audio[2 * RATE + RATE // 2 :]) == [VadEvent(SPEECH_STOPPED, 2 * RATE)]


def test_vad_ignores_a_click():
    vad = EnergyVad()
    audio = np.concatenate([np.zeros(RATE, np.int16), tone(0.06, 0.5), np.zeros(RATE, np.int16)])
    assert feed_in_chunks(vad, audio) == []  # 60 ms is too short to be speech


def test_vad_adapts_to_steady_noise_and_bridges_pauses_between_words():
    hum = tone(2.0, 0.03, frequency=50)  # -30 dBFS: above the fixed floor, but steady
    word = tone(0.5, 0.3)
    speech = np.concatenate([word, hum[: RATE // 5], word])
    events = feed_in_chunks(EnergyVad(), np.concatenate([hum, speech, hum]))
    # One utterance: the hum alone never starts one, the 200 ms pause inside does not end it.
    assert [e.kind for e in events] == [SPEECH_STARTED, SPEECH_STOPPED]
    assert events[0].sample == pytest.approx(hum.size, abs=480)
    assert events[1].sample == pytest.approx(hum.size + speech.size, abs=480)


# --------------------------------------------------------------------------- voice and ear


def test_espeak_voice_speaks_and_pocketsphinx_hears_it():
    samples, rate = EspeakVoice()(SENTENCE)
    assert rate == 22050 and samples.dtype == np.int16 and samples.ndim == 1
    assert 0.8 < samples.size / rate < 4  # about two seconds of speech
    assert np.abs(samples.astype(np.int32)).max() == round(0.7 * 32767)
    assert EspeakVoice()("")[0].size == 0
    with ear.PocketsphinxEar() as hearing:  # its worker process ends with the block
        heard = hearing(resample(samples, rate, RATE), RATE)
    assert word_errors(heard, SENTENCE) <= MAX_WORD_ERRORS, heard


def test_espeak_voice_is_safe_from_many_threads():
    voice = EspeakVoice()
    texts = ["hello there", "what time is it", "goodbye", "tell me a joke"] * 2
    expected = {t: voice(t)[0] for t in set(texts)}
    results: dict[int, np.ndarray] = {}

    def speak(index: int) -> None:
        results[index] = voice(texts[index])[0]

    threads = [
        threading.Thread(target=speak, args=(i,), name=f"navtalk-test-{i}")
        for i in range(len(texts))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    # eSpeak NG varies a little from call to call; mixed-up calls would differ a lot.
    for index, text in enumerate(texts):
        assert results[index].size == pytest.approx(expected[text].size, rel=0.05), text


def test_espeak_voice_refuses_an_unknown_voice_and_bad_settings():
    with pytest.raises(ValueError, match="no voice named"):
        EspeakVoice(voice="no-such-voice")("hello")
    with pytest.raises(ValueError, match="words_per_minute"):
        EspeakVoice(words_per_minute=5)


# --------------------------------------------------------------------------- the voice loop


def test_a_spoken_sentence_is_heard_transcribed_and_answered(make_server, connect):
    server = make_server()
    signaling = connect(server)
    signaling.until(UPDATED)
    audio = spoken(SENTENCE)
    messages = append_messages(audio)
    assert all(len(m["data"]["audio"]) == 4096 for m in messages[:-1])
    for message in messages:
        signaling.send(message)
    frames = signaling.until(AUDIO_DONE)
    kinds = [f["type"] for f in frames]
    assert kinds.count(STARTED) == 1 and kinds.count(STOPPED) == 1 and kinds.count(HEARD) == 1
    assert kinds.index(STARTED) < kinds.index(STOPPED) < kinds.index(HEARD) < kinds.index(DELTA)
    heard = frames[kinds.index(HEARD)]["data"]
    assert heard["content"] == heard["transcript"]
    assert word_errors(heard["content"], SENTENCE) <= MAX_WORD_ERRORS, heard["content"]
    reply = frames[kinds.index(DONE)]["data"]["content"]
    assert reply == f"You said: {heard['content']}."  # the rule brain echoes what it heard
    assert server.received_audio() == audio.astype("<i2").tobytes()


def test_without_pocketsphinx_speech_gets_an_error_naming_the_extra(
    make_server, connect, monkeypatch
):
    # Stands in for an installation without the ``voice`` extra.
    monkeypatch.setattr(ear, "available", lambda: False)
    monkeypatch.setattr(espeak, "available", lambda: False)
    server = make_server()
    signaling = connect(server)
    signaling.until(UPDATED)
    speech, rate = ToneVoice()("what is the weather like today")
    send_all(signaling, np.concatenate([resample(speech, rate, RATE), np.zeros(RATE, np.int16)]))
    frames = signaling.until(ERROR)
    assert [f["type"] for f in frames] == [STARTED, STOPPED, ERROR]
    assert frames[-1]["message"] == NO_RECOGNIZER_MESSAGE
    assert "pip install 'navtalk-sync[voice]'" in NO_RECOGNIZER_MESSAGE
    signaling.assert_silent(0.3)  # no reply
    assert "hello" in signaling.ask("hello")[-2]["data"]["content"].lower()  # typed text works


def test_a_custom_recognizer_is_used_and_its_failure_reported(make_server, connect):
    heard_lengths: list[float] = []

    def recognizer(samples: np.ndarray, rate: int) -> str:
        heard_lengths.append(samples.size / rate)
        if len(heard_lengths) > 1:
            raise RuntimeError("the ear broke")
        return "hello there"

    server = make_server(recognizer=recognizer)
    signaling = connect(server)
    signaling.until(UPDATED)
    audio = spoken("hello there")
    send_all(signaling, audio)
    frames = signaling.until(DONE)
    assert frames[[f["type"] for f in frames].index(HEARD)]["data"]["content"] == "hello there"
    assert frames[-1]["data"]["content"] == "Hello! Nice to meet you."
    signaling.until(AUDIO_DONE)
    assert 0.5 < heard_lengths[0] < audio.size / RATE  # the utterance, not the whole buffer
    send_all(signaling, audio)
    frames = signaling.until(ERROR)
    assert frames[-1]["data"]["code"] == "speech_not_recognized"
    assert "the ear broke" in frames[-1]["message"]


def test_speech_interrupts_the_avatar_barge_in(make_server, connect, answerer):
    server = make_server()
    signaling = connect(server)
    client = with_media(server, signaling, answerer)
    long_text = "please repeat this rather long sentence about the weather " * 3
    signaling.ask(long_text)  # about ten seconds of speech
    wait_until(lambda: server.media_info().speaking, what="the avatar speaking")
    send_all(signaling, spoken("stop", lead=0.1, tail=0.0))
    signaling.until(STARTED)
    wait_until(lambda: not server.media_info().speaking, timeout=2, what="the avatar stopping")
    # What the client receives goes quiet soon after (allowing for jitter buffering).
    mark = client.counts()[1] + 25
    wait_until(lambda: client.counts()[1] >= mark + 25, what="more audio frames")
    assert max(client.audio_since(mark)) < SILENT


def test_transparency_commit_speaks_the_pushed_audio(make_server, connect, answerer):
    server = make_server()
    signaling = connect(server, model="transparency")
    client = with_media(server, signaling, answerer)
    audio = spoken("hello there", lead=0.0, tail=0.35)
    send_all(signaling, audio)
    signaling.send({"type": "realtime.input_audio_buffer.commit", "data": {}})
    wait_until(lambda: server.media_info().speaking, what="the avatar speaking")
    start = client.counts()
    wait_until(lambda: not server.media_info().speaking, what="the avatar finishing")
    assert max(client.audio_since(start[1])) > 1000  # the pushed voice went out ...
    assert max(d for _, _, d in client.video_since(start[0])) > 0.12  # ... and moved the mouth
    signaling.assert_silent(0.5)  # no VAD events, no transcription, no reply
    assert server.received_audio() == audio.astype("<i2").tobytes()


def test_transparency_clear_drops_the_pushed_audio_and_no_brain_answers(make_server, connect):
    server = make_server()
    signaling = connect(server, model="transparency")
    signaling.until(UPDATED)
    send_all(signaling, spoken("hello there"))
    signaling.send({"type": "realtime.input_audio_buffer.clear", "data": {}})
    signaling.send({"type": "realtime.input_audio_buffer.commit", "data": {}})
    signaling.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "hi"}],
            },
        }
    )
    signaling.send({"type": "response.create"})
    signaling.assert_silent(0.5)
    assert not server.media_info().speaking


def test_received_audio_joins_every_append_form_per_connection(make_server, connect):
    server = make_server()
    first, second = connect(server), connect(server)
    first.until(UPDATED)
    second.until(UPDATED)
    pieces = [bytes([i, 0, 0, i]) * 10 for i in range(1, 4)]
    encoded = [base64.b64encode(p).decode() for p in pieces]
    first.send({"type": "realtime.input_audio_buffer.append", "data": {"audio": encoded[0]}})
    first.send(
        {
            "type": "realtime.input_audio_buffer.append",
            "data": {"audio": encoded[1], "sequenceNumber": 1},
        }
    )
    first.ws.send(json.dumps({"type": "input_audio_buffer.append", "audio": encoded[2]}))
    second.send({"type": "realtime.input_audio_buffer.append", "data": {"audio": encoded[0]}})
    server.wait_for_message("input_audio_buffer.append", predicate=lambda m: m.connection_id == 1)
    wait_until(lambda: len(server.messages(connection_id=2)) >= 1, what="the second append")
    assert server.received_audio(1) == b"".join(pieces)
    assert server.received_audio(2) == pieces[0]
    assert server.received_audio() == pieces[0]  # the latest connection
    with pytest.raises(KeyError):
        server.received_audio(99)

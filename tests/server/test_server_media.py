"""The local server's WebRTC media, received by a real aiortc answerer on loopback.

A plain ``websocket-client`` connection does the signaling (protocol.md#webrtc-signaling) and an
``aiortc.RTCPeerConnection`` in the test, on its own ``navtalk-test-rtc`` loop, answers the
server's offer and decodes what arrives: the drawn face (``MOUTH_BOX`` darkens when the mouth
opens) and the voice (RMS).
"""

from __future__ import annotations

import base64
import threading
import time
from typing import Any
from urllib.parse import quote, urlencode

import numpy as np
import pytest
import websocket

from navtalk_sync.rtc.ice import host_candidate_restriction, restrict_host_candidates
from navtalk_sync.server import Faults, LocalServer, MediaInfo, ToneVoice
from navtalk_sync.server.face import MOUTH_BOX, draw_face
from tests.helpers import rms, wait_until
from tests.rigs.raw_peer import (
    AUDIBLE,
    AUDIO_DONE,
    OFFER,
    SILENT,
    Answerer,
    Signaling,
    mouth_darkness,
)
from tests.rigs.udp import udp_sockets

pytestmark = pytest.mark.timeout(60)

SUCCESS = "conversation.connected.success"
CREATED = "realtime.session.created"
UPDATED = "realtime.session.updated"
DONE = "realtime.response.audio_transcript.done"
AUDIO_DELTA = "realtime.response.audio.delta"
THREAD_PREFIX = "navtalk-"

#: Idle: hardly any dark pixel in the mouth box; speaking: a good part of it.
IDLE_MOUTH, SPEAKING_MOUTH = 0.03, 0.12


def without_candidates(sdp: str) -> tuple[str, list[str]]:
    """The SDP without its candidate lines (and end-of-candidates), and the candidates."""
    lines = sdp.split("\r\n")
    candidates = sorted({line[2:] for line in lines if line.startswith("a=candidate:")})
    kept = [line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates"))]
    return "\r\n".join(kept), candidates


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def loopback_only():
    before = host_candidate_restriction()
    restrict_host_candidates(["127.0.0.1"])
    yield
    restrict_host_candidates(before)


@pytest.fixture
def connect():
    sockets: list[websocket.WebSocket] = []

    def open_signaling(server: LocalServer) -> Signaling:
        query = urlencode({"license": server.license, "name": "navtalk.Leo"}, quote_via=quote)
        ws = websocket.create_connection(f"{server.url}?{query}", timeout=10)
        sockets.append(ws)
        return Signaling(ws)

    yield open_signaling
    for ws in sockets:
        ws.close(timeout=0.5)


def connected(server: LocalServer, connect, answerer) -> tuple[Signaling, Answerer]:
    """A session whose media is up (answer with embedded candidates) and whose frames flow."""
    signaling = connect(server)
    client = answerer()
    signaling.answer(client.answer(signaling.offer_sdp()))
    signaling.until(UPDATED)
    server.wait_for_ice()
    wait_until(lambda: min(client.counts()) >= 5, what="frames arriving")
    return signaling, client


# --------------------------------------------------------------------------- the offer


@pytest.mark.parametrize(
    ("timing", "expected"),
    [
        (None, [SUCCESS, OFFER, CREATED, UPDATED]),
        ("after_success", [SUCCESS, OFFER, CREATED, UPDATED]),
        ("after_created", [SUCCESS, CREATED, OFFER, UPDATED]),
        ("after_updated", [SUCCESS, CREATED, UPDATED, OFFER]),
    ],
)
def test_offer_timing(make_server, connect, timing, expected):
    faults = Faults() if timing is None else Faults(offer_timing=timing)
    server = make_server(faults=faults)
    signaling = connect(server)
    assert [signaling.recv()["type"] for _ in expected] == expected
    info = server.media_info()
    assert info.offered and not info.answered and info.ice_state == "new"


def test_offer_timing_is_validated():
    with pytest.raises(ValueError, match="offer_timing"):
        Faults(offer_timing="whenever")
    faults = Faults()
    with pytest.raises(ValueError, match="media_stop_after"):
        faults.media_stop_after = -1


def test_offer_is_sendonly_video_then_audio_on_loopback_only(make_server, connect):
    server = make_server(ice_servers=[])
    frame = connect(server).until(OFFER)[-1]
    assert frame["data"]["sdp"]["type"] == "offer"
    sdp = frame["data"]["sdp"]["sdp"]
    assert sdp.startswith("v=0\r\n") and "\r\n" in sdp and "\n" not in sdp.replace("\r\n", "")
    sections = sdp.split("\r\nm=")[1:]
    assert [s.split(" ", 1)[0] for s in sections] == ["video", "audio"]
    assert ["a=mid:0" in sections[0], "a=mid:1" in sections[1]] == [True, True]
    assert all("a=sendonly" in s and "a=rtcp-mux" in s for s in sections)
    assert "a=group:BUNDLE 0 1" in sdp
    candidates = [line.split() for line in sdp.split("\r\n") if line.startswith("a=candidate:")]
    assert candidates, "the offer must carry its candidates (non-trickle)"
    assert {c[4] for c in candidates} == {"127.0.0.1"}
    assert {c[7] for c in candidates} == {"host"}  # no STUN (srflx) or TURN (relay)
    assert "stun:" not in sdp and "turn:" not in sdp


# --------------------------------------------------------------------------- connecting


def test_answer_with_embedded_candidates_connects_and_faces_arrive(server, connect, answerer):
    _, client = connected(server, connect, answerer)
    width, height, _ = client.video_since(0)[-1]
    assert (width, height) == (512, 512)
    assert client.ice_state == "completed"
    info = server.media_info()
    assert isinstance(info, MediaInfo)
    assert info.offered and info.answered and info.candidates_received == 0
    assert info.ice_state == "completed" and "checking" in info.ice_states
    assert info.frames_sent > 0 and info.audio_frames_sent > 0 and not info.speaking
    assert server.wait_for_ice("connected").ice_state == "completed"  # aiortc has no "connected"


@pytest.mark.parametrize(
    ("answer_form", "candidate_form"), [("string", "object"), ("top-level", "string")]
)
def test_trickled_candidates_connect(server, connect, answerer, answer_form, candidate_form):
    signaling = connect(server)
    client = answerer()
    sdp, candidates = without_candidates(client.answer(signaling.offer_sdp()))
    assert candidates
    signaling.answer(sdp, answer_form)
    signaling.until(UPDATED)
    for candidate in [*candidates, ""]:  # "" = end of candidates
        if candidate_form == "object":
            body: Any = {"candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0}
        else:
            body = candidate
        signaling.send({"type": "webrtc.signaling.iceCandidate", "data": {"candidate": body}})
    server.wait_for_ice()  # the client's own checks may connect it before the candidates land
    wait_until(
        lambda: server.media_info().candidates_received == len(candidates), what="candidates"
    )
    assert server.media_info().answered
    wait_until(lambda: min(client.counts()) >= 3, what="frames arriving")
    assert not [m for m in server.received if not m.valid]


def test_candidates_may_come_before_the_answer(server, connect, answerer):
    signaling = connect(server)
    client = answerer()
    sdp, candidates = without_candidates(client.answer(signaling.offer_sdp()))
    for candidate in candidates:
        signaling.send({"type": "webrtc.signaling.iceCandidate", "data": {"candidate": candidate}})
    signaling.answer(sdp)
    assert server.wait_for_ice().candidates_received == len(candidates)  # counted on arrival


def test_video_size_and_rate_are_settings(make_server, connect, answerer):
    server = make_server(video_size=(320, 240), fps=10)
    _, client = connected(server, connect, answerer)
    assert {(w, h) for w, h, _ in client.video_since(0)} == {(320, 240)}


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("video_size", (512,)),
        ("video_size", (511, 512)),
        ("video_size", (8, 8)),
        ("fps", 0),
        ("fps", 500),
        ("voice", "espeak"),
    ],
)
def test_media_options_are_validated(option, value):
    with pytest.raises(ValueError, match=option):
        LocalServer(**{option: value})


# --------------------------------------------------------------------------- speaking


def test_a_reply_opens_the_mouth_and_is_heard(server, connect, answerer):
    signaling, client = connected(server, connect, answerer)
    wait_until(lambda: min(client.counts()) >= 25, what="a second of idle media")
    idle_video = [d for _, _, d in client.video_since(0)]
    idle_audio = client.audio_since(0)
    assert max(idle_video) < IDLE_MOUTH
    assert max(idle_audio) < SILENT

    video_mark, audio_mark = client.counts()
    frames = signaling.ask("tell me something nice")
    assert frames[-2]["type"] == DONE and AUDIO_DELTA not in [f["type"] for f in frames]
    assert server.media_info().speaking  # the voice plays after the reply's events
    wait_until(lambda: not server.media_info().speaking, timeout=20, what="the reply spoken")
    time.sleep(0.3)  # the last frames in flight
    speaking_video = [d for _, _, d in client.video_since(video_mark)]
    speaking_audio = client.audio_since(audio_mark)
    assert max(speaking_video) > SPEAKING_MOUTH
    assert max(speaking_audio) > AUDIBLE
    # Afterwards the mouth closes again and the voice is silent.
    video_mark, audio_mark = client.counts()
    wait_until(
        lambda: min(len(client.video_since(video_mark)), len(client.audio_since(audio_mark))) >= 10,
        what="more frames",
    )
    assert client.video_since(video_mark)[-1][2] < IDLE_MOUTH
    assert max(client.audio_since(audio_mark)[-5:]) < SILENT


def test_audio_deltas_carry_the_reply_voice_at_24_khz(make_server, connect):
    server = make_server(audio_deltas=True, voice=ToneVoice())
    signaling = connect(server)
    signaling.until(UPDATED)
    frames = signaling.ask("hello")
    kinds = [f["type"] for f in frames]
    assert kinds[-1] == AUDIO_DONE and AUDIO_DELTA in kinds
    first_delta = kinds.index(AUDIO_DELTA)
    assert set(kinds[first_delta:-1]) == {AUDIO_DELTA} and DONE in kinds[:first_delta]
    reply_id = frames[-1]["data"]["id"]
    deltas = [
        base64.b64decode(f["data"]["delta"], validate=True)
        for f in frames
        if f["type"] == AUDIO_DELTA
    ]
    assert all(f["data"]["id"] == reply_id for f in frames if f["type"] == AUDIO_DELTA)
    assert all(len(d) <= 4800 and len(d) % 2 == 0 for d in deltas)  # <= 100 ms of PCM16
    pcm = np.frombuffer(b"".join(deltas), dtype="<i2")
    text = next(f for f in frames if f["type"] == DONE)["data"]["content"]
    voice, rate = ToneVoice()(text)
    assert abs(pcm.size - voice.size * 24000 // rate) <= 48  # the same speech, at 24 kHz
    assert rms(pcm) > AUDIBLE and np.abs(pcm.astype(np.int32)).max() < 32767


def test_a_custom_voice_is_used(make_server, connect):
    calls: list[str] = []

    def voice(text: str) -> tuple[np.ndarray, int]:
        calls.append(text)
        return np.full(1600, 1000, np.int16), 16000  # 100 ms at 16 kHz

    server = make_server(voice=voice, audio_deltas=True)
    signaling = connect(server)
    signaling.until(UPDATED)
    frames = signaling.ask("hi")
    assert calls == [next(f for f in frames if f["type"] == DONE)["data"]["content"]]
    pcm = b"".join(base64.b64decode(f["data"]["delta"]) for f in frames if f["type"] == AUDIO_DELTA)
    assert abs(len(pcm) // 2 - 2400) <= 48


def test_a_failing_voice_keeps_the_reply(make_server, connect):
    def voice(text: str) -> tuple[np.ndarray, int]:
        raise RuntimeError("no voice today")

    server = make_server(voice=voice, audio_deltas=True)
    signaling = connect(server)
    signaling.until(UPDATED)
    kinds = [f["type"] for f in signaling.ask("hi")]
    assert kinds[-2:] == [DONE, AUDIO_DONE] and AUDIO_DELTA not in kinds


# --------------------------------------------------------------------------- media faults


def test_no_offer(make_server, connect):
    server = make_server(faults=Faults(no_offer=True))
    signaling = connect(server)
    assert [f["type"] for f in signaling.until(UPDATED)] == [SUCCESS, CREATED, UPDATED]
    signaling.assert_silent(0.3)
    assert not server.media_info().offered
    assert signaling.ask("still works")[-1]["type"] == AUDIO_DONE
    signaling.answer("v=0\r\n")
    assert "no WebRTC offer" in signaling.refusal()
    signaling.send({"type": "webrtc.signaling.iceCandidate", "data": {"candidate": ""}})
    assert "no WebRTC offer" in signaling.refusal()


def test_offer_unreachable_never_connects(make_server, connect, answerer):
    server = make_server(faults=Faults(offer_unreachable=True))
    signaling = connect(server)
    client = answerer()
    offer = signaling.offer_sdp()
    assert {line.split()[4] for line in offer.split("\r\n") if line.startswith("a=candidate:")} == {
        "127.0.0.1"
    }
    signaling.answer(client.answer(offer))  # a valid SDP: the client took it
    signaling.until(UPDATED)
    with pytest.raises(TimeoutError):
        server.wait_for_ice(timeout=3.0)
    assert client.ice_state not in ("connected", "completed")
    assert client.counts() == (0, 0)
    assert server.media_info().answered


def test_stop_media_stops_the_frames_but_not_the_session(server, connect, answerer):
    signaling, client = connected(server, connect, answerer)
    assert server.stop_media() == 1
    time.sleep(0.5)  # frames already on their way
    before, sent = client.counts(), server.media_info()
    time.sleep(1.0)
    assert client.counts() == before
    after = server.media_info()
    assert (after.frames_sent, after.audio_frames_sent) == (
        sent.frames_sent,
        sent.audio_frames_sent,
    )
    assert after.ice_state == "completed" and client.ice_state == "completed"
    assert signaling.ask("are you there?")[-2]["data"]["content"] == "You said: are you there?"
    assert not server.media_info().speaking  # stopped media does not queue speech


def test_media_stop_after(make_server, connect, answerer):
    server = make_server(faults=Faults(media_stop_after=0.5))
    signaling, client = connected(server, connect, answerer)
    stable = []

    def stopped() -> bool:
        stable.append(client.counts())
        return len(stable) > 50 and stable[-1] == stable[-50]  # ~1 s without a frame

    wait_until(stopped, timeout=15, what="the media stopping")
    assert min(client.counts()) > 0
    assert server.media_info().ice_state == "completed"
    assert signaling.ask("hello")[-1]["type"] == AUDIO_DONE


# --------------------------------------------------------------------------- refusals


def test_bad_answers_and_candidates_are_refused(server, connect, answerer):
    signaling = connect(server)
    client = answerer()
    offer = signaling.offer_sdp()
    signaling.until(UPDATED)
    signaling.answer("v=0\r\nthis is not an answer\r\n")
    assert "cannot be used" in signaling.refusal()
    signaling.send(
        {"type": "webrtc.signaling.iceCandidate", "data": {"candidate": "candidate:nonsense"}}
    )
    assert "not an ICE candidate" in signaling.refusal()
    answer = client.answer(offer)
    signaling.answer(answer)  # a good answer after a bad one is still taken
    server.wait_for_ice()
    signaling.answer(answer)
    assert "already" in signaling.refusal()
    refused = [m for m in server.received if not m.valid]
    assert [m.type for m in refused] == [
        "webrtc.signaling.answer",
        "webrtc.signaling.iceCandidate",
        "webrtc.signaling.answer",
    ]
    assert signaling.ask("fine?")[-1]["type"] == AUDIO_DONE


def test_wait_for_ice_arguments(server):
    with pytest.raises(ValueError, match="state"):
        server.wait_for_ice("checking")
    with pytest.raises(KeyError):
        server.media_info()


# --------------------------------------------------------------------------- teardown


def test_stop_leaves_no_thread_no_udp_socket_and_no_task(connect, answerer, caplog):
    sockets_before = udp_sockets()
    server = LocalServer().start()
    _, client = connected(server, connect, answerer)
    silent = connect(server)  # gets an offer, never answers
    silent.until(UPDATED)
    assert server.media_info(2).offered
    client.close()
    server.stop()
    assert udp_sockets() == sockets_before
    server_threads = [
        t.name for t in threading.enumerate() if t.name.startswith("navtalk-local-server")
    ]
    assert server_threads == []
    assert server.media_info(1).ice_state == "closed"
    assert server.media_info(1).frames_sent > 0
    assert "was destroyed but it is pending" not in caplog.text
    assert "exception was never retrieved" not in caplog.text


# --------------------------------------------------------------------------- the face and the voice


def test_draw_face_mouth_darkens_as_it_opens():
    darkness = [mouth_darkness(draw_face(512, 512, m)) for m in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert darkness == sorted(darkness) and len(set(darkness)) == len(darkness)
    assert darkness[0] < 0.01 and darkness[-1] > 0.2


def test_draw_face_picture():
    face = draw_face(320, 240, 0.5)
    assert face.shape == (240, 320, 3) and face.dtype == np.uint8
    assert face.flags.writeable
    face[:] = 0  # the caller's own copy
    assert draw_face(320, 240, 0.5).any()
    assert np.array_equal(draw_face(64, 64, 2.0), draw_face(64, 64, 1.0))  # clipped
    open_eyes, closed_eyes = draw_face(512, 512, 0.0), draw_face(512, 512, 0.0, blink=True)
    changed = np.argwhere((open_eyes != closed_eyes).any(axis=2))
    assert changed.size and changed[:, 0].max() < MOUTH_BOX[1] * 512  # only the eyes change
    with pytest.raises(ValueError):
        draw_face(8, 8, 0.0)


def test_tone_voice():
    voice = ToneVoice()
    samples, rate = voice("Hello there, how are you today?")
    assert rate == 48000 and samples.dtype == np.int16 and samples.ndim == 1
    again, _ = voice("Hello there, how are you today?")
    assert np.array_equal(samples, again)
    assert rms(samples) > 2000
    assert np.abs(samples.astype(np.int32)).max() < 32767  # never clips
    lengths = [voice(" ".join(["word"] * n))[0].size for n in (1, 2, 4, 8)]
    assert lengths == sorted(lengths) and len(set(lengths)) == 4
    assert 0.25 <= lengths[0] / rate <= 0.35
    assert voice("")[0].size == 0 and voice("...")[0].size == 0
    assert voice("a. b")[0].size > voice("a b")[0].size  # a longer pause at a full stop

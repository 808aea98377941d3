"""Seeing and hearing the avatar: the client against the local server's real WebRTC media.

Every test here runs real aiortc on both ends over 127.0.0.1: the server offers its drawn face
and its voice, the client answers, and the tests look at what a user gets: pictures whose mouth
opens while the avatar speaks, voice that is loud during a reply, a recording that plays back.
"""

from __future__ import annotations

import logging
import threading
import time

import av
import numpy as np
import pytest

import navtalk_sync as nt
from navtalk_sync.server import Faults, LocalServer
from tests.helpers import client_for, mouth_darkness, rms, wait_until
from tests.rigs import alsa
from tests.rigs.udp import udp_sockets

pytestmark = pytest.mark.timeout(90)

QUESTION = "What can you do?"


def test_the_picture_is_the_drawn_face_and_its_mouth_moves_while_it_speaks(server):
    darkness: list[tuple[float, float]] = []
    with client_for(server) as client:
        client.on_video_frame(lambda f: darkness.append((f.received_at, mouth_darkness(f.image))))
        client.connect(timeout=10)
        first = client.wait_for_video(timeout=10)
        wait_until(lambda: len(darkness) >= 10, timeout=10)
        idle = [d for _, d in darkness]
        asked = time.monotonic()
        client.send_text(QUESTION)
        client.wait_for("realtime.response.audio.done", timeout=10)
        wait_until(lambda: max((d for t, d in darkness if t > asked), default=0) > 0.1, 15)
        speaking = [d for t, d in darkness if t > asked]

    assert (first.width, first.height) == (512, 512)
    assert max(idle) < 0.02  # closed mouth: lips and skin only
    assert max(speaking) > 0.1
    assert client.stats()["video_frame_size"] == (512, 512)


def test_the_avatar_voice_is_silent_idle_and_loud_during_a_reply(server):
    chunks: list[nt.AvatarAudio] = []
    with client_for(server) as client:
        client.on_avatar_audio(chunks.append)
        client.connect(timeout=10)
        wait_until(lambda: len(chunks) >= 25, timeout=10)
        idle = [rms(c.pcm) for c in chunks]
        count = len(chunks)
        client.send_text(QUESTION)
        wait_until(lambda: max((rms(c.pcm) for c in chunks[count:]), default=0) > 1000, 15)

    assert max(idle) < 50
    assert chunks[0].sample_rate == 48000


def test_a_recording_made_during_a_reply_has_picture_and_voice(server, tmp_path):
    path = tmp_path / "avatar.mp4"
    with client_for(server, record=str(path)) as client:
        client.connect(timeout=10)
        client.wait_for_video(timeout=10)
        started = time.monotonic()
        client.send_text(QUESTION)
        client.wait_for("realtime.response.audio.done", timeout=10)
        time.sleep(3.0)  # the voice plays on after generation ends
        summary = client.stop_recording(timeout=10)
        recorded_for = time.monotonic() - started

    assert summary is not None and summary.saved
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert container.streams.audio[0].codec_context.name == "aac"
        assert (video.codec_context.width, video.codec_context.height) == (512, 512)
        duration = float(container.duration / av.time_base)
        samples = np.concatenate(
            [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
        ).astype(np.float64)
    # the file spans the session's media, from the first frame to stop_recording()
    assert recorded_for - 0.5 < duration < recorded_for + 5.0
    assert np.sqrt(np.mean(samples**2)) > 0.01  # AAC decodes to float: the voice is in it


def test_record_and_stop_recording_mid_session(server, tmp_path):
    path = tmp_path / "part.mkv"
    with client_for(server) as client:
        client.connect(timeout=10)
        client.wait_for_video(timeout=10)
        client.record(path)
        with pytest.raises(nt.NavTalkError, match="already running"):
            client.record(tmp_path / "other.mkv")
        time.sleep(1.5)
        summary = client.stop_recording(timeout=10)
        assert client.stop_recording(timeout=1) is None
    assert summary.video_frames > 10
    with av.open(str(path)) as container:
        assert container.streams.video and container.streams.audio


@pytest.mark.parametrize("timing", ["after_success", "after_created", "after_updated"])
def test_every_offer_timing_goes_live(timing):
    with LocalServer(faults=Faults(offer_timing=timing)) as server, client_for(server) as client:
        states = []
        client.on("client.state", lambda e: states.append(e.state))
        client.connect(timeout=10)
        client.wait_for_video(timeout=10)
        wait_until(lambda: client.state == "live", timeout=10)
        assert client.ask("hello", timeout=10) == "Hello! Nice to meet you."
    assert "live" in states


def test_the_server_offering_unreachable_candidates_gives_failed_media():
    faults = Faults(offer_unreachable=True)
    with LocalServer(faults=faults) as server, client_for(server, media_timeout=2.0) as client:
        client.connect(timeout=10)
        event = client.wait_for("client.media", 10, lambda e: e.state == "failed")
        assert "ICE did not connect" in event.reason
        assert client.ask("hello", timeout=10)  # the conversation goes on without media
        assert client.state == "session_ready"


def test_media_stopping_mid_session_is_reported_as_stalled(server):
    with client_for(server, stall_timeout=1.0) as client:
        client.connect(timeout=10)
        client.wait_for_video(timeout=10)
        wait_until(lambda: client.media_state == "flowing", timeout=10)
        assert server.stop_media() == 1
        event = client.wait_for("client.media", 10, lambda e: e.state == "stalled")
        assert "no video frame" in event.reason
        assert client.ask("hello", timeout=10)


def test_audio_deltas_are_events_with_pcm_and_not_played():
    with LocalServer(audio_deltas=True) as server, client_for(server) as client:
        deltas = client.events("realtime.response.audio.delta")
        client.connect(timeout=10)
        client.send_text(QUESTION)
        event = deltas.get(timeout=10)
        pcm = np.frombuffer(event.audio, dtype="<i2")
        assert len(pcm) > 0 and rms(pcm) > 0


def test_close_mid_reply_leaves_no_thread_or_udp_socket(server):
    before = udp_sockets()
    client = client_for(server)
    client.connect(timeout=10)
    client.wait_for_video(timeout=10)
    client.send_text(QUESTION)
    client.wait_for("realtime.response.audio_transcript.delta", timeout=10)
    client.close(timeout=2.0)
    names = [t.name for t in threading.enumerate()]
    assert not [n for n in names if n.startswith(("navtalk-rtc", "navtalk-video", "navtalk-av"))]
    wait_until(lambda: not server.connections[-1].open, timeout=10)
    wait_until(lambda: udp_sockets() <= before, timeout=10)  # the server's peer closed too


def test_the_avatar_voice_plays_on_the_speaker_device_and_barge_in_flushes_it(server, alsa_rig):
    with client_for(server, speaker=alsa.SPEAKER) as client:
        client.connect(timeout=10)
        client.wait_for_video(timeout=10)
        client.send_text(QUESTION)
        wait_until(lambda: client.stats()["speaker"]["played_ms"] > 1500, timeout=15)
        # the user starts talking: the voice still queued locally is dropped at once
        server.send_event({"type": "realtime.input_audio_buffer.speech_started", "data": {}})
        wait_until(lambda: client.stats()["speaker"]["flushes"] >= 1, timeout=10)
    played = alsa_rig.read_speaker()
    assert len(played) > 48000  # over a second of sound reached the device
    loud = [rms(played[i : i + 960]) for i in range(0, len(played) - 960, 960)]
    assert max(loud) > 1000  # the voice, not only silence


def test_close_finishes_a_recording_started_by_the_constructor(server, tmp_path):
    path = tmp_path / "whole.mp4"
    client = client_for(server, record=path)
    client.connect(timeout=10)
    client.wait_for_video(timeout=10)
    client.send_text(QUESTION)
    client.wait_for("realtime.response.audio.done", timeout=10)
    time.sleep(1.0)
    received = client.stats()["video_frames_received"]
    client.close()  # the default close_timeout: 1 s for everything, the file included
    with av.open(str(path)) as container:
        assert container.streams.video and container.streams.audio
        frames = sum(1 for _ in container.decode(video=0))
    assert frames >= received > 0  # every picture that arrived before close() is in the file


def test_a_short_close_still_finishes_the_recording(server, tmp_path, caplog):
    # The file is what a late close would lose; it is finished first, whatever the budget.
    path = tmp_path / "short.mp4"
    client = client_for(server, record=path)
    client.connect(timeout=10)
    client.wait_for_video(timeout=10)
    client.send_text(QUESTION)
    client.wait_for("realtime.response.audio.done", timeout=10)
    client.close(timeout=0.3)
    assert not [t.name for t in threading.enumerate() if t.name == "navtalk-recorder"]
    warned = [r.message for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [message for message in warned if "record" in message]
    with av.open(str(path)) as container:  # finished: an unfinished .mp4 has no index
        assert sum(1 for _ in container.decode(video=0)) > 0

"""Voice-only sessions (``video=False``): the picture still arrives over real WebRTC from the
local server, but is dropped undecoded; the voice, the media states and a recording go on."""

from __future__ import annotations

import time

import av
import numpy as np
import pytest

import navtalk_sync as nt
from tests.helpers import client_for, wait_until

pytestmark = pytest.mark.timeout(90)


def test_a_voice_only_session_hears_the_avatar_and_decodes_no_picture(server, tmp_path):
    loud: list[float] = []
    path = tmp_path / "voice.mp4"
    with client_for(server, video=False, record=str(path)) as client:
        client.on_avatar_audio(
            lambda chunk: np.abs(chunk.pcm).max() > 1000 and loud.append(time.monotonic())
        )
        client.connect(timeout=20)
        wait_until(lambda: client.media_state == "flowing", timeout=20, what="flowing media")
        assert client.ask("What can you do?", timeout=30).startswith("I can chat")
        wait_until(lambda: len(loud) > 25, timeout=20, what="the reply's voice")
        wait_until(  # the picture keeps coming (the service always sends it)
            lambda: client.stats()["network"]["video"]["packets_received"] > 100, timeout=20
        )
        stats = client.stats()
        with pytest.raises(nt.NavTalkError, match="video=False"):
            client.wait_for_video(timeout=1)
        with pytest.raises(nt.NavTalkError, match="video=False"):
            client.on_video_frame(print)
        network = stats["network"]
    assert stats["video_frames_received"] == 0
    assert network["video"]["packets_received"] > 100  # ... and goes undecoded
    with av.open(str(path)) as recording:
        assert not recording.streams.video and recording.streams.audio
        assert recording.duration / av.time_base > 1


def test_a_silent_voice_only_link_is_reported_stalled(server):
    changes: list[str] = []
    with client_for(server, video=False, stall_timeout=1) as client:
        client.on("client.media", lambda change: changes.append(change.state))
        client.connect(timeout=20)
        wait_until(lambda: client.media_state == "flowing", timeout=20, what="flowing media")
        assert server.stop_media() == 1  # no more voice (nor picture), the socket stays up
        wait_until(lambda: client.media_state == "stalled", timeout=10, what="a stall")
    assert "flowing" in changes and "stalled" in changes

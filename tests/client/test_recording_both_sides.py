"""Recordings of both sides: the user's voice as it went up, as a second audio stream, and the
conversation's text as subtitles (a text track in the file and a WebVTT file beside it).
A real session with the local server: typed and spoken turns, real WebRTC, real encoders."""

from __future__ import annotations

import re
import struct
import time

import av
import numpy as np
import pytest

import navtalk_sync as nt
from tests.helpers import SENTENCE, client_for, question_wav

pytestmark = pytest.mark.timeout(120)

CUE = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d\d\d) --> (\d\d):(\d\d):(\d\d)\.(\d\d\d)$")


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def _vtt_cues(text: str) -> list[tuple[float, float, str, str]]:
    lines = text.splitlines()
    assert lines[0] == "WEBVTT"
    cues = []
    for index, line in enumerate(lines):
        found = CUE.match(line)
        if found:
            voice = re.match(r"^<v ([^>]+)>(.*)$", lines[index + 1])
            assert voice, lines[index + 1]
            times = found.groups()
            cues.append((_seconds(*times[:4]), _seconds(*times[4:]), voice[1], voice[2]))
    return cues


def _converse(client: nt.NavTalkClient, tmp_path) -> nt.events.TurnReport:
    client.connect(timeout=20)
    client.wait_for_video(timeout=20)
    with client.events("client.turn") as turns:
        assert client.ask("What can you do?", timeout=30).startswith("I can chat")
        turns.get(timeout=30)
    return client.talk(question_wav(tmp_path), timeout=60)


# an .mkv's subtitles are the .vtt beside it only (see rtc/recorder.py)
@pytest.mark.parametrize("suffix, text_codec", [(".mp4", "mov_text"), (".mkv", None)])
def test_a_recording_keeps_the_users_voice_and_the_conversations_text(
    server, tmp_path, suffix, text_codec
):
    path = tmp_path / f"call{suffix}"
    with client_for(
        server, record=str(path), record_user_audio=True, record_subtitles=True
    ) as client:
        spoken = _converse(client, tmp_path)
        summary = client.stop_recording(timeout=20)
    assert summary is not None and summary.saved and summary.user_audio_frames > 50
    assert summary.subtitles == path.with_suffix(".vtt") and summary.cues == 4

    cues = _vtt_cues(summary.subtitles.read_text(encoding="utf-8"))
    assert [(speaker, text[:12]) for _, _, speaker, text in cues] == [
        ("user", "What can you"),
        ("avatar", "I can chat w"),
        ("user", spoken.heard[:12]),
        ("avatar", "You said: " + spoken.heard[:2]),
    ]
    starts = [start for start, _, _, _ in cues]
    assert starts == sorted(starts) and all(end > start for start, end, _, _ in cues)
    assert cues[-1][1] <= summary.duration + 1.0

    with av.open(str(path)) as recording:
        audio = list(recording.streams.audio)
        assert len(audio) == 2 and recording.streams.video
        texts = list(recording.streams.subtitles)
        assert [stream.codec_context.name for stream in texts] == [text_codec] * bool(text_codec)
        user = _decoded(path, 1)
        packets = [bytes(p) for p in recording.demux(texts[0]) if p.size] if texts else []
    # the spoken question is loud in the user's stream, about where its cue says
    user_start, user_end = cues[2][0], cues[2][1]
    rate = 48000
    said = user[int(user_start * rate) : int((user_end + 0.5) * rate)]
    before = user[: int(cues[0][0] * rate)]
    assert _rms(said) > 300 and _rms(said) > 10 * max(_rms(before), 1.0)
    if text_codec:
        shown = [_payload(packet) for packet in packets]
        speakers = [line.split(":")[0] for line in shown if line]
        assert speakers == ["user", "avatar", "user", "avatar"]
        assert SENTENCE.split()[0] in " ".join(shown)


def _decoded(path, stream_index: int) -> np.ndarray:
    """The audio stream as mono at 48 kHz, each frame at its own time in the file."""
    with av.open(str(path)) as recording:
        stream = recording.streams.audio[stream_index]
        frames = [(f.time, f.to_ndarray()[0]) for f in recording.decode(stream)]
    end = max(round(at * 48000) + len(samples) for at, samples in frames)
    placed = np.zeros(end)
    for at, samples in frames:
        start = max(0, round(at * 48000))
        placed[start : start + len(samples)] = samples
    return placed * 32768


def _payload(packet: bytes) -> str:
    (length,) = struct.unpack(">H", packet[:2])  # mov_text: the text's length, then the text
    return packet[2 : 2 + length].decode("utf-8")


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def test_by_default_a_recording_is_the_avatar_alone(server, tmp_path):
    path = tmp_path / "avatar.mp4"
    with client_for(server) as client:
        client.connect(timeout=20)
        client.wait_for_video(timeout=20)
        client.record(path)
        client.talk(question_wav(tmp_path), timeout=60)
        summary = client.stop_recording(timeout=20)
    assert summary.user_audio_frames == 0 and summary.subtitles is None
    assert not path.with_suffix(".vtt").exists()
    with av.open(str(path)) as recording:
        assert len(recording.streams.audio) == 1 and not recording.streams.subtitles


def test_record_takes_both_sides_as_arguments_and_checks_them(server, tmp_path):
    with client_for(server) as client:
        client.connect(timeout=20)
        with pytest.raises(nt.InvalidArgument, match="user_audio must be True or False"):
            client.record(tmp_path / "a.mp4", user_audio="yes")
        client.record(tmp_path / "b.mkv", user_audio=True, subtitles=True)
        client.send_audio(np.full(24000, 3000, np.int16), sample_rate=24000)
        client.wait_audio_sent(timeout=10)
        summary = client.stop_recording(timeout=20)
    assert summary.user_audio_frames > 0 and summary.subtitles is not None
    assert _rms(_decoded(tmp_path / "b.mkv", 1)) > 100


def test_the_users_voice_coming_first_does_not_cost_the_recording_its_picture(server, tmp_path):
    path = tmp_path / "first.mp4"
    with client_for(server) as client:
        client.connect(timeout=20)
        client.wait_for_video(timeout=20)
        # 5 s of the user's voice in a burst, the moment recording starts: it reaches the
        # recorder before the avatar's next picture does
        client.send_audio(np.full(5 * 24000, 3000, np.int16), sample_rate=24000)
        client.record(path, user_audio=True)
        client.wait_audio_sent(timeout=10)
        time.sleep(1.0)
        summary = client.stop_recording(timeout=20)
    assert summary.video_frames > 10 and summary.user_audio_frames > 0
    with av.open(str(path)) as recording:
        assert recording.streams.video and len(recording.streams.audio) == 2

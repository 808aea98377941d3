"""``navtalk-sync demo`` as a new user first runs it: a spoken question (eSpeak NG) to the local
server, the answer heard and seen, and the mp4 and the contact sheet it leaves behind. Real
server, real aiortc, real PyAV; the files are read back as a user's player would."""

from __future__ import annotations

import contextlib
import io
import re

import av
import numpy as np
import pytest

from navtalk_sync.cli import contact_sheet, main
from navtalk_sync.cli.spoken_demo import RECORDING_NAME, SHEET_NAME
from navtalk_sync.server import LocalServer
from tests.helpers import SENTENCE, mouth_darkness, spoken

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Run the demo once (it takes a few seconds); the tests look at what it printed and left."""
    out = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()  # capsys is per test; this catches the client's threads too
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(printed):
        patch.delenv("NAVTALK_LICENSE", raising=False)
        code = main(["demo", "--out", str(out)])
    return code, printed.getvalue(), out


def test_the_spoken_question_is_heard_and_answered_live(demo):
    code, out, _ = demo
    assert code == 0, out
    assert "local NavTalk-compatible server at ws://127.0.0.1:" in out
    assert "-> session_ready" in out and "[you are speaking]" in out
    heard = re.search(r"^you: +(.*)$", out, re.M)
    assert heard, out
    assert len(set(SENTENCE.split()) - set(heard.group(1).lower().split())) <= 2
    reply = re.search(r"^avatar: (.*)$", out, re.M)
    assert reply and reply.group(1).startswith("You said:"), out
    assert out.index("you: ") < out.index("avatar: ")


def test_the_summary_gives_the_turn_latency_and_the_counts(demo):
    _, out, _ = demo
    assert re.search(r"turn: after your speech ended, first reply text \d+ ms", out), out
    assert "mouth moving" in out and "audio done" in out and "voice ended" in out
    received = re.search(r"video: (\d+) frames received, (\d+) dropped", out)
    assert received and int(received.group(1)) > 25, out
    assert re.search(r"audio: \d+ chunks of the avatar's voice received, \d+ dropped", out)
    assert "speaker off" in out
    assert not re.search(r"sk_navtalk_[A-Za-z0-9]", out)


def test_the_recording_plays_with_picture_and_sound(demo):
    _, _, out = demo
    with av.open(str(out / RECORDING_NAME)) as container:
        assert container.streams.video and container.streams.audio
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        container.seek(0)
        sound = [frame.to_ndarray() for frame in container.decode(audio=0)]
        duration = float(container.duration) / av.time_base
    assert 2.0 < duration < 60.0
    assert len(frames) > 2 * 25  # seconds of 25 fps video
    samples = np.concatenate([chunk.reshape(-1) for chunk in sound])
    assert samples.dtype == np.float32 and np.abs(samples).max() > 0.05  # AAC: floats; a voice
    darkness = [mouth_darkness(frame) for frame in frames]
    assert max(darkness) - min(darkness) > 0.1  # the avatar spoke on camera


def test_the_contact_sheet_shows_the_mouth_moving(demo):
    _, out, folder = demo
    assert f"face: {folder / SHEET_NAME} (12 frames" in out
    with av.open(str(folder / SHEET_NAME)) as container:
        sheet = next(container.decode(video=0)).to_ndarray(format="rgb24")
    width, height = contact_sheet.sheet_size()
    assert sheet.shape == (height, width, 3)
    cells = []
    for index in range(contact_sheet.COLUMNS * contact_sheet.ROWS):
        x0, y0, x1, y1 = contact_sheet.cell_box(index)
        cells.append(sheet[y0:y1, x0:x1])
    assert all(cell.std() > 10 for cell in cells)  # every cell holds a picture
    darkness = [mouth_darkness(cell) for cell in cells]
    assert max(darkness) > 0.1 and min(darkness) < max(darkness) / 2, darkness


def test_text_demo_leaves_no_files(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("NAVTALK_LICENSE", raising=False)
    assert main(["demo", "--text", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "you:    Is breakfast included?" in out and "3 turns; reply time mean" in out
    assert list(tmp_path.iterdir()) == []


def test_without_the_voice_extra_the_demo_says_so_and_types(tmp_path, capsys, monkeypatch):
    from navtalk_sync.server import espeak

    monkeypatch.delenv("NAVTALK_LICENSE", raising=False)
    monkeypatch.setattr(espeak, "available", lambda: False)  # as if it were not installed
    assert main(["demo", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "the voice extra is not installed" in out and "pip install 'navtalk-sync[voice]'" in out
    assert "avatar: I can chat with you" in out and "3 turns" in out
    assert list(tmp_path.iterdir()) == []


def test_pick_evenly_spans_first_to_last():
    assert contact_sheet.pick_evenly(list(range(100)), 4) == [0, 33, 66, 99]
    assert contact_sheet.pick_evenly([1, 2], 12) == [1, 2]


def test_with_a_licence_the_user_speaks_into_the_default_microphone(
    tmp_path, capsys, alsa_rig, monkeypatch
):
    # the tests' ALSA default devices are files: the microphone says SENTENCE, the speaker
    # keeps what it played
    alsa_rig.write_mic(spoken(SENTENCE), pad_seconds=8.0)
    monkeypatch.delenv("NAVTALK_LICENSE", raising=False)
    with LocalServer() as server:
        argv = ["demo", "--license", server.license, "--url", server.url, "--seconds", "8"]
        assert main([*argv, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Speak now (8 s" in out
    heard = re.search(r"^you: +(.*)$", out, re.M)
    assert heard and len(set(SENTENCE.split()) - set(heard.group(1).lower().split())) <= 2, out
    assert re.search(r"^avatar: You said:", out, re.M), out
    assert "speaker on" in out and server.license not in out
    assert (tmp_path / RECORDING_NAME).stat().st_size > 0 and (tmp_path / SHEET_NAME).exists()
    played = alsa_rig.read_speaker()
    assert np.abs(played).max() > 1000  # the avatar's voice reached the speaker


def test_url_without_licence_is_a_usage_error(capsys, monkeypatch):
    monkeypatch.delenv("NAVTALK_LICENSE", raising=False)
    assert main(["demo", "--url", "ws://127.0.0.1:9"]) == 2
    assert "--url needs --license" in capsys.readouterr().err

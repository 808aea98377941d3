"""examples/transparency_tts.py makes the avatar say audio the app synthesized itself."""

from __future__ import annotations

import re
import wave

import av
import pytest

from tests.helpers import mouth_darkness, run_example


@pytest.mark.timeout(90)
def test_transparency_example_moves_the_mouth_with_the_pushed_speech(tmp_path):
    lines = run_example("transparency_tts.py", str(tmp_path), timeout=80).stdout.splitlines()
    pushed = re.fullmatch(r"pushed ([\d.]+) s of speech by (.+): '.+'", lines[0])
    assert pushed, lines[0]
    assert lines[1] == "committed: the avatar speaks it"
    heard = re.fullmatch(r"heard the avatar say it for ([\d.]+) s", lines[2])
    assert heard, lines[2]
    # most of what was pushed came back as the avatar's voice (its pauses are not counted)
    assert float(heard.group(1)) > 0.5 * float(pushed.group(1))
    assert lines[3] == f"saved {tmp_path / 'mouth_open.png'} (512x512)"

    with wave.open(str(tmp_path / "speech.wav")) as speech:
        assert speech.getnframes() / speech.getframerate() == pytest.approx(
            float(pushed.group(1)), abs=0.06
        )
    with av.open(str(tmp_path / "mouth_open.png")) as picture:
        image = next(picture.decode(video=0)).to_ndarray(format="rgb24")
    assert image.shape == (512, 512, 3)
    assert mouth_darkness(image) > 0.1  # the mouth is open

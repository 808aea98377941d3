"""A program that only sends text and files, in a slim container without PyAudio or a sound
system: ``import navtalk_sync`` and a session work; asking for a sound device is a clear
``AudioDeviceError``. Run in a fresh interpreter in which ``import pyaudio`` fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["pyaudio"] = None  # import pyaudio -> ImportError, as where it is missing
    import navtalk_sync as nt
    from navtalk_sync.server import LocalServer

    with LocalServer() as server:
        with nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url) as client:
            client.connect(timeout=20)
            print("reply:", client.ask("What can you do?", timeout=30))
            try:
                client.start_microphone()
            except nt.AudioDeviceError as error:
                print("microphone:", error)
        try:
            nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url,
                             speaker=True).connect(timeout=20)
        except nt.AudioDeviceError as error:
            print("speaker:", error)
        try:
            nt.list_audio_devices()
        except nt.AudioDeviceError as error:
            print("devices:", error)
    """
)


@pytest.mark.timeout(90)
def test_a_text_session_runs_without_pyaudio_and_devices_say_what_is_missing():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=80
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    assert lines["reply"].startswith("I can chat with you")
    for what in ("microphone", "speaker", "devices"):
        assert lines[what].startswith("sound devices need PyAudio"), lines[what]
        assert "pip install pyaudio" in lines[what]

"""The core install (``pip install navtalk-sync``, no extras) in a slim container without
PyAudio, a sound system, the local server's packages or the echo canceller: ``import
navtalk_sync`` and a text session work; each missing part, when asked for, is a clear error
that names the extra to install. Run in a fresh interpreter in which the extras' modules cannot
be imported, against a local server in the test's own process."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

#: The modules only the extras bring (setup.cfg): audio, server, voice, aec.
EXTRAS_MODULES = ("pyaudio", "websockets", "trustme", "pocketsphinx", "espeakng_loader", "livekit")

SCRIPT = textwrap.dedent(
    """
    import site
    import sys

    site.addsitedir(sys.argv[3])  # the interpreter started without its own site-packages
    import navtalk_sync as nt
    from navtalk_sync import cli

    license, url = sys.argv[1:3]
    with nt.NavTalkClient(license, avatar_name="navtalk.Leo", url=url) as client:
        client.connect(timeout=20)
        print("reply:", client.ask("What can you do?", timeout=30))
        try:
            client.start_microphone()
        except nt.AudioDeviceError as error:
            print("microphone:", error)
    try:
        nt.NavTalkClient(license, avatar_name="navtalk.Leo", url=url, speaker=True).connect(
            timeout=20
        )
    except nt.AudioDeviceError as error:
        print("speaker:", error)
    try:
        nt.list_audio_devices()
    except nt.AudioDeviceError as error:
        print("devices:", error)
    try:
        from navtalk_sync.server import LocalServer
    except nt.MissingExtra as error:
        print("server:", error)
    print("echo canceller:", nt.echo_canceller_missing())
    print("serve exit code:", cli.main(["serve", "--port", "0"]))
    """
)


def _site_without_extras(folder: Path) -> Path:
    """A copy of this interpreter's site-packages, as links, without the extras' packages."""
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if re.split(r"[-.]", entry.name)[0].lower() not in EXTRAS_MODULES:
            (folder / entry.name).symlink_to(entry)
    return folder


@pytest.mark.timeout(90)
def test_a_text_session_runs_on_the_core_install_and_each_extra_says_how_to_get_it(
    server, tmp_path
):
    site_packages = _site_without_extras(tmp_path)
    done = subprocess.run(
        [sys.executable, "-S", "-c", SCRIPT, server.license, server.url, str(site_packages)],
        capture_output=True,
        text=True,
        timeout=80,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.strip().splitlines())
    assert lines["reply"].startswith("I can chat with you")
    for what in ("microphone", "speaker", "devices"):
        assert lines[what].startswith("sound devices need PyAudio"), lines[what]
        assert "pip install 'navtalk-sync[audio]'" in lines[what]
    assert "needs websockets" in lines["server"]
    assert "pip install 'navtalk-sync[server]'" in lines["server"]
    assert "pip install 'navtalk-sync[aec]'" in lines["echo canceller"]
    assert lines["serve exit code"] == "1"
    assert "navtalk-sync: the local server needs websockets" in done.stderr

"""The navtalk-sync subcommands beyond demo: devices, avatar, listen, serve's flags, chat."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys

import pytest

import navtalk_sync as nt
from navtalk_sync.cli import main
from navtalk_sync.server import LocalServer
from tests.rigs import alsa

pytestmark = pytest.mark.timeout(60)

LICENCE_PATTERN = re.compile(r"sk_navtalk_[A-Za-z0-9]")


@pytest.fixture
def server():
    with LocalServer(video_size=(128, 96)) as srv:
        yield srv


# --------------------------------------------------------------------------- devices


def test_devices_lists_the_virtual_speaker_and_microphone(alsa_rig, capsys):
    assert main(["devices"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["index", "name", "in", "out", "rate", "default"]
    speaker = next(line for line in lines if alsa.SPEAKER in line)
    mic = next(line for line in lines if alsa.MIC in line)
    assert re.search(r"\s0\s+\d+\s+\d+\s*$", speaker)  # no input channels, some output
    assert re.search(r"\s[1-9]\d*\s+0\s+\d+\s*$", mic)
    default = next(line for line in lines if re.search(r"\sdefault\s", line[5:]))
    assert default.rstrip().endswith("* input, output")


def test_devices_json_is_machine_readable(alsa_rig, capsys):
    assert main(["devices", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_name = {row["name"]: row for row in rows}
    assert by_name[alsa.MIC]["input_channels"] >= 1
    assert by_name[alsa.MIC]["output_channels"] == 0
    assert by_name[alsa.SPEAKER]["output_channels"] >= 1
    assert all(isinstance(row["default_rate"], int) for row in rows)
    assert sum(row["default_input"] for row in rows) == 1
    assert sum(row["default_output"] for row in rows) == 1


# --------------------------------------------------------------------------- avatar


def test_avatar_prints_the_lookup(server, capsys):
    code = main(["avatar", "navtalk.Leo", "--license", server.license, "--url", server.http_url])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    fields = dict(line.split(None, 1) for line in captured.out.splitlines())
    assert fields["name"] == "navtalk.Leo"
    assert re.fullmatch(r"[0-9a-f]{32}", fields["id"])
    assert not LICENCE_PATTERN.search(captured.out + captured.err)


def test_avatar_by_id_finds_the_same_avatar(server, capsys):
    base = ["--license", server.license, "--url", server.http_url]
    assert main(["avatar", "navtalk.Leo", *base]) == 0
    avatar_id = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())["id"]
    assert main(["avatar", avatar_id, *base]) == 0
    assert "navtalk.Leo" in capsys.readouterr().out


def test_an_unknown_avatar_exits_4(server, capsys):
    code = main(["avatar", "nobody.Here", "--license", server.license, "--url", server.http_url])
    assert code == 4
    assert "not found" in capsys.readouterr().err


def test_a_refused_licence_exits_5(server, capsys):
    wrong = "sk_navtalk_" + "w" * 32
    assert main(["avatar", "navtalk.Leo", "--license", wrong, "--url", server.http_url]) == 5
    argv = ["listen", "--no-media", "--url", server.url, "--license", wrong, "--count", "1"]
    assert main(argv) == 5
    err = capsys.readouterr().err
    assert "wwww" not in err


@pytest.mark.parametrize("notice, code", [("gpu_full", 3), ("insufficient_balance", 5)])
def test_a_server_notice_exits_3_when_retrying_may_help_else_5(notice, code, capsys):
    from navtalk_sync.server.faults import Faults

    with LocalServer(faults=Faults(setup_notice=notice)) as busy:
        argv = ["listen", "--no-media", "--url", busy.url, "--license", busy.license]
        assert main([*argv, "--count", "1"]) == code
    assert notice in capsys.readouterr().err


def test_an_unreachable_avatar_api_exits_3(capsys):
    licence = "sk_navtalk_" + "q" * 32
    code = main(["avatar", "navtalk.Leo", "--license", licence, "--url", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert code == 3
    assert "could not be reached" in err and "qqqq" not in err


# --------------------------------------------------------------------------- help


def test_every_subcommand_has_help_with_examples(capsys):
    from navtalk_sync.cli import SUBCOMMANDS

    names = [module.__name__.rsplit(".", 1)[1] for module in SUBCOMMANDS]
    for name in names:
        with pytest.raises(SystemExit) as info:
            main([name, "--help"])
        assert info.value.code == 0
        assert "example" in capsys.readouterr().out, name
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    assert "exit codes:" in top and "4    not found" in top


# --------------------------------------------------------------------------- listen


def json_lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


def test_listen_prints_every_event_as_a_json_line(capsys, monkeypatch):
    monkeypatch.delenv("NAVTALK_LICENSE", raising=False)
    # 8 setup events (4 state changes, success, offer, created, updated), 4 deltas, done.
    argv = ["listen", "--jsonl", "--no-media", "--say", "What is your name?", "--count", "13"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    lines = json_lines(captured.out)
    assert len(lines) == 13
    types = [line["type"] for line in lines]
    assert types[0] == "client.state" and "realtime.session.updated" in types
    done = next(line for line in lines if line["event"] == "ResponseTranscriptDone")
    assert done["fields"]["text"] == "My name is Leo."
    assert done["raw"]["type"] == "realtime.response.audio_transcript.done"
    deltas = [
        line["fields"]["text"] for line in lines if line["event"] == "ResponseTranscriptDelta"
    ]
    assert "".join(deltas) == "My name is Leo."
    assert "local NavTalk-compatible server at ws://127.0.0.1:" in captured.err
    assert not LICENCE_PATTERN.search(captured.out + captured.err)


def test_listen_against_a_running_server_redacts_its_licence(server, capsys):
    argv = ["listen", "--jsonl", "--no-media", "--url", server.url, "--license", server.license]
    assert main([*argv, "--say", "Hello!", "--seconds", "5"]) == 0
    lines = json_lines(capsys.readouterr().out)
    assert any(line["type"] == "realtime.response.audio_transcript.done" for line in lines)
    assert server.license not in json.dumps(lines)


def test_listen_to_nothing_listening_exits_3(capsys):
    argv = ["listen", "--jsonl", "--url", "ws://127.0.0.1:9", "--license", "k", "--count", "1"]
    assert main(argv) == 3
    assert "cannot open ws://127.0.0.1:9" in capsys.readouterr().err


# --------------------------------------------------------------------------- serve


class Served:
    """``navtalk-sync serve ...`` as a subprocess: its banner lines, then Ctrl-C and its output."""

    def __init__(self, *flags: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("NAVTALK_LICENSE", None)
        command = [sys.executable, "-m", "navtalk_sync.cli", "serve", "--port", "0", *flags]
        self.proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.banner: list[str] = []
        while not self.banner or not self.banner[-1].startswith("Ctrl-C"):
            line = self.proc.stdout.readline()
            assert line, f"serve ended early: {self.proc.stderr.read()}"
            self.banner.append(line.rstrip("\n"))
        self.url = re.search(r"ws://127\.0\.0\.1:\d+/wss/v2/realtime-chat", self.banner[0]).group()

    def stop(self) -> tuple[str, str]:
        """Ctrl-C; (the rest of stdout, stderr). The exit code must be 0."""
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=20)
        assert self.proc.returncode == 0, err
        return out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=10)


def test_serve_fault_flags_reach_the_server():
    served = Served("--fault", "setup_notice=gpu_full", "--fault", "up_to_connection=1")
    try:
        assert "fault: setup_notice='gpu_full'" in served.banner
        assert "fault: up_to_connection=1" in served.banner
        with nt.NavTalkClient("any", avatar_name="navtalk.Leo", url=served.url, media=False) as c:
            with pytest.raises(nt.GpuFull):
                c.connect(timeout=10)
        # up_to_connection=1: the second connection is served normally
        with nt.NavTalkClient("any", avatar_name="navtalk.Leo", url=served.url, media=False) as c:
            c.connect(timeout=10)
            assert c.ask("What is your name?", timeout=10) == "My name is Leo."
        served.stop()
    finally:
        served.kill()


def test_serve_video_size_and_fps_reach_the_server():
    served = Served("--video-size", "96x64", "--fps", "10", "--audio-deltas")
    try:
        with nt.NavTalkClient("any", avatar_name="navtalk.Leo", url=served.url) as client:
            client.connect(timeout=15)
            frame = client.wait_for_video(timeout=15)
            assert (frame.width, frame.height) == (96, 64)
            client.send_text("Hello!")
            client.wait_for(nt.events.ResponseAudioDelta, timeout=15)
        served.stop()
    finally:
        served.kill()


def test_serve_drop_every_aborts_open_connections():
    served = Served("--drop-every", "1")
    try:
        assert "dropping every connection every 1 s" in served.banner
        with nt.NavTalkClient("any", avatar_name="navtalk.Leo", url=served.url, media=False) as c:
            c.connect(timeout=10)
            ended = c.wait_for("client.disconnected", timeout=20)
            assert ended.error is not None
        out, _ = served.stop()
        assert "dropped 1 connection(s)" in out
    finally:
        served.kill()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--fault", "no_such_fault=1"], "NAME one of: reject_http, setup_notice"),
        (["--fault", "setup_notice=bogus"], "setup_notice must be one of"),
        (["--fault", "up_to_connection=two"], "expected int"),
        (["--fault", "no_offer=maybe"], "expected true or false"),
        (["--video-size", "640"], "expected WIDTHxHEIGHT"),
        (["--drop-every", "0"], "expected a positive number"),
    ],
)
def test_serve_refuses_bad_flags_with_exit_2(flags, message, capsys):
    with pytest.raises(SystemExit) as info:
        main(["serve", *flags])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


# --------------------------------------------------------------------------- chat


def run_chat(lines: str, *flags: str) -> subprocess.CompletedProcess:
    """``navtalk-sync chat`` as a subprocess with ``lines`` piped into it (its local server)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NAVTALK_LICENSE", None)
    return subprocess.run(
        [sys.executable, "-m", "navtalk_sync.cli", "chat", *flags],
        input=lines,
        capture_output=True,
        text=True,
        env=env,
        timeout=50,
    )


def write_png(path, width: int, height: int) -> None:
    import av
    import numpy as np

    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 90, np.uint8), "rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)


def test_chat_says_piped_lines_and_streams_the_replies(tmp_path):
    write_png(tmp_path / "photo.png", 40, 30)
    lines = f"Hello!\n\nWhat is your name?\n/image {tmp_path / 'photo.png'}\n/quit\nnot said\n"
    done = run_chat(lines, "--no-media")
    assert done.returncode == 0, done.stderr
    dialogue = [line for line in done.stdout.splitlines() if line.startswith(("you", "avatar"))]
    assert dialogue == [
        "you: Hello!",
        "avatar: Hello! Nice to meet you.",
        "you: What is your name?",
        "avatar: My name is Leo.",
        f"you: /image {tmp_path / 'photo.png'}",
        "avatar: I see a picture of 40x30 pixels.",
        "you: /quit",
    ]
    assert "local NavTalk-compatible server at ws://127.0.0.1:" in done.stderr
    assert not LICENCE_PATTERN.search(done.stdout + done.stderr)


def test_chat_reports_bad_commands_and_goes_on(tmp_path):
    lines = f"/image {tmp_path / 'missing.png'}\n/mute\n/bogus\n/image\nHello!\n"
    done = run_chat(lines, "--no-media")  # ends at end of input
    assert done.returncode == 0, done.stderr
    assert f"cannot send {tmp_path / 'missing.png'}" in done.stderr
    assert "no microphone (start chat with --mic)" in done.stderr
    assert "unknown command /bogus" in done.stderr and "usage: /image PATH" in done.stderr
    assert "avatar: Hello! Nice to meet you." in done.stdout


def test_chat_mutes_and_unmutes_the_microphone(alsa_rig):
    done = run_chat("/mute\n/unmute\nHello!\n/quit\n", "--no-media", "--mic", alsa.MIC)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.index("[microphone muted]") < out.index("[microphone on]") < out.index("avatar:")


def test_chat_with_an_unknown_microphone_exits_6(alsa_rig):
    done = run_chat("Hello!\n", "--no-media", "--mic", "no-such-device")
    assert done.returncode == 6
    assert alsa.MIC in done.stderr  # the inputs there are, listed


def test_serve_takes_avatars_and_a_brain(tmp_path, monkeypatch):
    (tmp_path / "shouting_brain.py").write_text(
        "def answer(request):\n    return (request.text or '').upper()\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    served = Served("--avatar", "Ada", "--avatar", "Bob=elevenlabs", "--brain",
                    "shouting_brain:answer")  # fmt: skip
    try:
        assert "avatar: Bob (id " in " ".join(served.banner)
        assert "brain: shouting_brain:answer" in served.banner
        with nt.NavTalkClient("any", avatar_name="Ada", url=served.url, media=False) as client:
            client.connect(timeout=10)
            assert client.ask("hello there", timeout=10) == "HELLO THERE"
        served.stop()
    finally:
        served.kill()


def test_serve_refuses_a_brain_it_cannot_load(capsys):
    with pytest.raises(SystemExit) as info:
        main(["serve", "--brain", "no_such_module:answer"])
    assert info.value.code == 2
    assert "cannot load brain" in capsys.readouterr().err

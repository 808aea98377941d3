"""The navtalk-sync subcommands beyond demo: devices, avatar, listen, serve's flags, chat."""

from __future__ import annotations

import json
import re

import pytest

from navtalk_sync.cli import main
from navtalk_sync.server import LocalServer
from tests import alsa

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

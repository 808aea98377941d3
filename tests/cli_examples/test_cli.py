"""The navtalk-sync command, run for real: the demo against the local server, and serve."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

import navtalk_sync as nt
from navtalk_sync.cli import main

pytestmark = pytest.mark.timeout(60)


def test_demo_holds_a_text_conversation_with_the_local_server(capsys, monkeypatch):
    monkeypatch.delenv("NAVTALK_LICENSE", raising=False)
    assert main(["demo", "--text"]) == 0
    out = capsys.readouterr().out
    assert "local NavTalk-compatible server at ws://127.0.0.1:" in out
    assert "[state] connecting -> configuring" in out and "-> session_ready" in out
    assert "you:    What can you do?" in out
    assert "avatar: I can chat with you, answer simple questions and repeat what you say." in out
    assert "3 turns; reply time mean" in out
    assert not re.search(r"sk_navtalk_[A-Za-z0-9]", out)


def test_demo_takes_its_own_lines(capsys, monkeypatch):
    monkeypatch.delenv("NAVTALK_LICENSE", raising=False)
    assert main(["demo", "What is your name?"]) == 0
    out = capsys.readouterr().out
    assert "avatar: My name is Leo." in out and "1 turns" in out


def test_demo_reports_an_unreachable_server_with_exit_code_3(capsys):
    code = main(["demo", "--license", "sk_navtalk_" + "z" * 32, "--url", "ws://127.0.0.1:9", "hi"])
    err = capsys.readouterr().err
    assert code == 3
    assert "cannot open ws://127.0.0.1:9" in err and "zzzz" not in err


def test_serve_runs_until_interrupted_and_accepts_any_licence():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NAVTALK_LICENSE", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "navtalk_sync.cli", "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        banner = [proc.stdout.readline() for _ in range(3)]  # url, licence policy, Ctrl-C
        url = re.search(r"ws://127\.0\.0\.1:\d+/wss/v2/realtime-chat", banner[0])
        assert url, banner
        with nt.NavTalkClient("any-key-will-do", avatar_name="navtalk.Leo", url=url.group()) as c:
            c.connect(timeout=10)
            assert c.ask("What is your name?", timeout=10) == "My name is Leo."
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "accepting any licence" in banner[1]
    assert "any-key-will-do" not in "".join(banner) + out + err


def test_help_on_every_subcommand(capsys):
    for command in (["--help"], ["demo", "--help"], ["serve", "--help"]):
        with pytest.raises(SystemExit) as info:
            main(command)
        assert info.value.code == 0
    assert "examples:" in capsys.readouterr().out


def test_serve_tls_prints_its_ca_and_names_the_ice_servers_given():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("NAVTALK_LICENSE", None)
    command = ["serve", "--port", "0", "--tls", "--ice-server", "turn:127.0.0.1:3478",
               "--ice-username", "alice", "--ice-credential", "turn-pass"]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "navtalk_sync.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        banner = [proc.stdout.readline() for _ in range(5)]
        url = re.search(r"wss://127\.0\.0\.1:\d+/wss/v2/realtime-chat", banner[0])
        ca_file = banner[1].rsplit(": ", 1)[1].strip()
        assert url and "ca_file=" in banner[1], banner
        with nt.NavTalkClient(
            "any-key-will-do", avatar_name="navtalk.Leo", url=url.group(), ca_file=ca_file,
            media=False,
        ) as client:  # fmt: skip
            client.connect(timeout=10)
            servers = client.ice_servers
            assert client.ask("What is your name?", timeout=10) == "My name is Leo."
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "ICE server named to clients: turn:127.0.0.1:3478" in "".join(banner)
    assert [(s.urls, s.username) for s in servers] == [(("turn:127.0.0.1:3478",), "alice")]
    assert "turn-pass" not in "".join(banner) + out + err

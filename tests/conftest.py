"""Suite-wide guards: no thread outlives its test, and no licence reaches a log line.

Also installs the virtual ALSA sound devices of ``tests/rigs/alsa.py`` (at import time: alsa-lib
reads its configuration once per process, at the first ``PyAudio()``); the ``alsa_rig``
fixture hands them to a test, emptied. The paced PulseAudio rig of ``tests/rigs/pulse.py`` is
started once per session by the first test that asks for ``pulse_rig``, and killed at the end.
"""

from __future__ import annotations

import logging
import re
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.rigs import alsa, pulse

LICENCE_PATTERN = re.compile(r"sk_navtalk_[A-Za-z0-9]")

# A suite started in the background (`make test &`, nohup) inherits SIGINT ignored, as shells
# start background jobs, and so would the commands the tests start and stop with Ctrl-C's
# signal; the default handler here is reset to the default in each of them.
signal.signal(signal.SIGINT, signal.default_int_handler)

ALSA_DIRECTORY = Path(tempfile.mkdtemp(prefix="navtalk-alsa-"))
PULSE_DIRECTORY = Path(tempfile.mkdtemp(prefix="navtalk-pulse-"))
ALSA_RIG = alsa.install(ALSA_DIRECTORY, pulse_socket=pulse.socket_path(PULSE_DIRECTORY))


def pytest_unconfigure(config):
    shutil.rmtree(ALSA_DIRECTORY, ignore_errors=True)
    shutil.rmtree(PULSE_DIRECTORY, ignore_errors=True)


@pytest.fixture
def alsa_rig() -> alsa.AlsaRig:
    """The virtual speaker and microphone (see tests/rigs/alsa.py), with empty files."""
    assert ALSA_RIG is not None, (
        f"alsa-lib's configuration is missing (looked for {alsa.SYSTEM_CONFIG_CANDIDATES}); "
        "install the Debian package libasound2-data (portaudio19-dev pulls it in)"
    )
    ALSA_RIG.clear_speaker()
    ALSA_RIG.clear_mic()
    return ALSA_RIG


@pytest.fixture(scope="session")
def pulse_rig() -> pulse.PulseRig:
    """The private PulseAudio daemon (see tests/rigs/pulse.py): ``alsa.PACED_INPUT`` captures what
    ``pulse_rig.play()`` plays, in real time. Skips the test when PulseAudio is missing."""
    if pulse.MISSING:
        pytest.skip(pulse.MISSING)
    assert ALSA_RIG is not None, "alsa-lib's configuration is missing (see alsa_rig)"
    rig = pulse.start(PULSE_DIRECTORY)
    yield rig
    rig.stop()


def _navtalk_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("navtalk-")}


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail a test that leaves a ``navtalk-*`` thread running (after a short grace period)."""
    before = _navtalk_threads()
    yield
    deadline = time.monotonic() + 3.0
    leaked = _navtalk_threads() - before
    while leaked and time.monotonic() < deadline:
        time.sleep(0.02)
        leaked = {t for t in leaked if t.is_alive()}
    assert not leaked, f"threads left running: {sorted(t.name for t in leaked)}"


@pytest.fixture(autouse=True)
def no_licence_in_logs(caplog):
    """Every test runs with DEBUG logging captured; no licence may appear in it."""
    caplog.set_level(logging.DEBUG)
    yield
    text = caplog.text
    match = LICENCE_PATTERN.search(text)
    context = text[max(0, match.start() - 80) : match.start()] if match else ""
    assert match is None, f"a licence leaked into the logs, after: {context!r}"


@pytest.fixture
def make_server():
    """``make_server(**options)`` starts a LocalServer; every one is stopped after the test."""
    # imported here: the ALSA rig above must be installed before anything loads PortAudio
    from navtalk_sync.server import LocalServer
    from navtalk_sync.server.app import THREAD_NAME

    servers: list[LocalServer] = []

    def make(**kwargs: Any) -> LocalServer:
        server = LocalServer(**kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]


@pytest.fixture
def server(make_server):
    """A LocalServer with the default options, stopped after the test (a test module that
    needs other options defines its own ``server``)."""
    return make_server()


@pytest.fixture
def answerer():
    """``answerer()``: a real aiortc peer that answers the local server's offer (see
    tests/server/test_server_media.py); every one is closed after the test."""
    from navtalk_sync.rtc import LoopThread
    from tests.rigs.raw_peer import Answerer

    portal = LoopThread("navtalk-test-rtc").start()
    made: list[Answerer] = []

    def make() -> Answerer:
        made.append(Answerer(portal))
        return made[-1]

    yield make
    try:
        for peer in made:
            peer.close()
    finally:
        portal.stop()

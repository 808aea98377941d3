"""A private PulseAudio daemon for the tests: sound devices paced in real time, like hardware.

The ALSA file devices of ``tests/rigs/alsa.py`` give exact content but return at once; a test of
streaming (a microphone that must deliver audio as it is spoken) needs a device that runs on
a clock. This daemon provides one, with no sound card:

- ``MIC_FEED``: a ``module-null-sink`` sink (48 kHz mono). ``PulseRig.play()`` plays PCM into
  it with ``paplay``, in real time.
- ``LOUDSPEAKER``: a second null sink (48 kHz stereo), which ``alsa.PACED_OUTPUT`` plays to.
  ``PulseRig.room()`` makes it audible to the microphone: a ``module-loopback`` from its
  monitor into ``MIC_FEED``, delayed and attenuated, as a loudspeaker is heard across a room.
- ``MIC_SOURCE``: a ``module-remap-source`` over that sink's monitor, so it captures what is
  played into ``MIC_FEED``. ``tests/rigs/alsa.py`` declares the ALSA device
  ``alsa.PACED_INPUT`` over it (the ``pulse`` plugin, with this daemon's socket), which is
  what PyAudio opens.

The daemon runs as the current user with ``XDG_RUNTIME_DIR`` and ``HOME`` in a private
directory, listens on a socket there (``socket``) and never exits on its own
(``--exit-idle-time=-1``); ``stop()`` kills it. Tests reach it through the explicit socket
only, so they neither use nor disturb a desktop's sound server.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterator

import attrs
import numpy as np

#: The sink that ``play()`` feeds, and the source that captures it.
MIC_FEED = "navtalk_mic_feed"
MIC_SOURCE = "navtalk_mic"
FEED_RATE = 48000
#: The sink the paced output device plays to.
LOUDSPEAKER = "navtalk_loudspeaker"

_SCRIPT = """\
load-module module-native-protocol-unix socket={socket} auth-anonymous=1
load-module module-null-sink sink_name={feed} rate={rate} channels=1
load-module module-null-sink sink_name={loudspeaker} rate={rate} channels=2
load-module module-remap-source master={feed}.monitor source_name={source}
set-default-source {source}
"""

#: Why the rig cannot run here, or None when it can.
MISSING = (
    None
    if shutil.which("pulseaudio") and shutil.which("paplay")
    else "the PulseAudio test rig needs the Debian packages pulseaudio, pulseaudio-utils and "
    "libasound2-plugins (run .ci/system-deps)"
)


@attrs.define
class PulseRig:
    """A running private daemon; ``play()`` feeds its microphone source."""

    directory: Path
    socket: Path
    pid: int
    _plays: int = 0

    @property
    def server(self) -> str:
        """The address libpulse clients (``paplay``, ``pactl``) take as ``PULSE_SERVER``."""
        return f"unix:{self.socket}"

    def _env(self) -> dict[str, str]:
        return {**os.environ, "PULSE_SERVER": self.server, "XDG_RUNTIME_DIR": str(self.directory)}

    def play(self, samples: np.ndarray) -> subprocess.Popen:
        """Start playing ``samples`` (int16 mono at ``FEED_RATE``) into ``MIC_FEED``; returns
        the ``paplay`` process, which ends when the sound has played (call ``wait()``)."""
        samples = np.asarray(samples)
        if samples.dtype != np.int16 or samples.ndim != 1:
            raise ValueError("play() takes a 1-D int16 array (mono, 48 kHz)")
        self._plays += 1
        path = self.directory / f"play-{self._plays}.raw"
        path.write_bytes(samples.astype("<i2").tobytes())
        command = ["paplay", "--raw", f"--device={MIC_FEED}", f"--rate={FEED_RATE}"]
        return subprocess.Popen(
            [*command, "--channels=1", "--format=s16le", str(path)],
            env=self._env(),
        )

    @contextlib.contextmanager
    def room(self, delay_ms: int = 40, gain_percent: int = 40) -> Iterator[None]:
        """While inside: what ``LOUDSPEAKER`` plays reaches ``MIC_SOURCE`` ``delay_ms`` later,
        at ``gain_percent`` of its volume (PulseAudio's cubic volume scale: 40 % is about
        -24 dB), on top of whatever ``play()`` plays. PulseAudio's loopback keeps the delay
        by resampling a little, so the echo also drifts, as a real room's clocks do."""
        module = self._pactl(
            "load-module", "module-loopback", f"source={LOUDSPEAKER}.monitor", f"sink={MIC_FEED}",
            f"latency_msec={delay_ms}", "adjust_time=0", "source_dont_move=true", "sink_dont_move=true",
        ).strip()  # fmt: skip
        try:
            sink_input = self._sink_input_of(module)
            self._pactl("set-sink-input-volume", sink_input, f"{gain_percent}%")
            yield
        finally:
            self._pactl("unload-module", module)

    def _sink_input_of(self, module: str) -> str:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for entry in self._pactl("list", "sink-inputs").split("Sink Input #")[1:]:
                if re.search(rf"^\s*Owner Module: {module}$", entry, re.MULTILINE):
                    return entry.split(maxsplit=1)[0]
            time.sleep(0.05)
        raise RuntimeError(f"the loopback module {module} made no sink input")

    def _pactl(self, *arguments: str) -> str:
        done = subprocess.run(
            ["pactl", *arguments], env=self._env(), capture_output=True, text=True, timeout=10
        )
        if done.returncode:
            raise RuntimeError(f"pactl {' '.join(arguments)}: {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        """Kill the daemon (idempotent) and wait for it to go."""
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _alive(self.pid):
            time.sleep(0.02)
        if _alive(self.pid):
            os.kill(self.pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a daemonized child of ours is reparented, so it never becomes our zombie
    return True


def socket_path(directory: Path) -> Path:
    """Where the daemon started in ``directory`` listens (known before it starts)."""
    return directory / "native"


def start(directory: Path, timeout: float = 10.0) -> PulseRig:
    """Start the daemon in ``directory`` (created if needed); returns once it answers."""
    if MISSING:
        raise RuntimeError(MISSING)
    directory.mkdir(parents=True, exist_ok=True)
    socket = socket_path(directory)
    script = directory / "daemon.pa"
    script.write_text(
        _SCRIPT.format(
            socket=socket,
            feed=MIC_FEED,
            rate=FEED_RATE,
            source=MIC_SOURCE,
            loudspeaker=LOUDSPEAKER,
        )
    )
    env = {**os.environ, "XDG_RUNTIME_DIR": str(directory), "HOME": str(directory)}
    env.pop("PULSE_SERVER", None)
    command = ["pulseaudio", "-n", "-F", str(script), "--daemonize=yes", "--exit-idle-time=-1"]
    subprocess.run(
        [
            *command,
            "--use-pid-file=yes",
            "--disallow-exit",
            f"--log-target=file:{directory / 'log'}",
        ],
        env=env,
        check=True,
        timeout=timeout,
    )
    rig = PulseRig(directory=directory, socket=socket, pid=_read_pid(directory, timeout))
    _wait_until_answering(rig, timeout)
    return rig


def _read_pid(directory: Path, timeout: float) -> int:
    pid_file = directory / "pulse" / "pid"
    deadline = time.monotonic() + timeout
    while not pid_file.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"pulseaudio wrote no pid file; see {directory / 'log'}")
        time.sleep(0.02)
    return int(pid_file.read_text().split()[0])


def _wait_until_answering(rig: PulseRig, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        probe = subprocess.run(
            ["pactl", "list", "short", "sources"], env=rig._env(), capture_output=True, text=True
        )
        if probe.returncode == 0 and MIC_SOURCE in probe.stdout:
            return
        if time.monotonic() > deadline:
            rig.stop()
            raise RuntimeError(f"pulseaudio did not come up; see {rig.directory / 'log'}")
        time.sleep(0.05)

"""What the rigs that run a server program (tinyproxy, coturn) share: a free port, and waiting
until the program listens."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

#: Seconds a program has to start listening.
START_WAIT = 10.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 free now (and, in practice, a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(process: subprocess.Popen[bytes], port: int, name: str, log: Path) -> None:
    """Return once ``process`` accepts TCP on ``port``; ``RuntimeError`` (the process killed)
    when it exits or does not listen within ``START_WAIT``."""
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}: see {log}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    process.kill()
    process.wait(5)
    raise RuntimeError(f"{name} did not start listening within {START_WAIT:g} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process``; kill it if it has not ended within 5 s."""
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)

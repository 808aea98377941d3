"""The local server in a child process, for the soak and load benchmarks.

In its own process the server's work (VP8 encoding of every session's face, eSpeak NG voices,
pocketsphinx recognition) and its memory are its own: the benchmark's process holds only the
clients, so their figures are the library's. The child takes commands on its stdin, one a
line, each answered with a line: ``drop`` aborts every connection (as
``LocalServer.drop_connections()``); ``stamp RATE COUNT`` sends COUNT stamped deltas to every
connection at RATE a second (``LocalServer.send_stamped_deltas()``). It ends when its stdin
closes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent

_SCRIPT = """
import sys
from navtalk_sync.server import LocalServer

with LocalServer(accept_any_license=True, fps=float(sys.argv[1])) as server:
    print(server.url, flush=True)
    for command in sys.stdin:
        name, *arguments = command.split()
        if name == "drop":
            print(server.drop_connections(), flush=True)
        elif name == "stamp":
            rate, count = float(arguments[0]), int(arguments[1])
            print(server.send_stamped_deltas(rate, count), flush=True)
"""


class ServerProcess:
    """``with ServerProcess() as server:``: a LocalServer (any licence let in) in a child
    process; ``url`` to connect to, ``pid`` to watch it by."""

    def __init__(self, fps: float = 25.0) -> None:
        self.fps = fps
        self._child = subprocess.Popen(
            [sys.executable, "-c", _SCRIPT, str(fps)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPOSITORY,  # `python -c` imports from its working directory first
        )
        assert self._child.stdout is not None
        self.url = self._child.stdout.readline().strip()
        if not self.url:
            self.stop()
            raise RuntimeError("the local server process did not start (see its stderr)")

    @property
    def pid(self) -> int:
        return self._child.pid

    def drop_connections(self) -> int:
        """Abort every connection (no close frame: the clients see code 1006); how many."""
        return int(self._command("drop"))

    def send_stamped_deltas(self, rate: float, count: int) -> int:
        """COUNT stamped deltas to every connection at RATE a second (blocks until written);
        how many frames were written."""
        return int(self._command(f"stamp {rate} {count}"))

    def _command(self, line: str) -> str:
        assert self._child.stdin is not None and self._child.stdout is not None
        self._child.stdin.write(line + "\n")
        self._child.stdin.flush()
        return self._child.stdout.readline()

    def stop(self, timeout: float = 15.0) -> None:
        """Close its stdin and wait for it to stop; kill it if it does not."""
        if self._child.stdin is not None and not self._child.stdin.closed:
            self._child.stdin.close()
        try:
            self._child.wait(timeout)
        except subprocess.TimeoutExpired:
            self._child.kill()
            self._child.wait(timeout)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

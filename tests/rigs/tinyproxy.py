"""A real HTTP CONNECT proxy for the tests: Debian's tinyproxy, on loopback, in the foreground.

``start(directory, credentials=None)`` writes a configuration (listen on 127.0.0.1 at a free
port, CONNECT to any port, Basic credentials if given), starts ``tinyproxy -d`` and waits until
it accepts connections. ``TinyProxy.connects()`` reads its log for the tunnels it opened, so a
test can tell from the proxy's side that a connection went through it. ``deny=True`` makes a
proxy that refuses every client (403), as a corporate proxy does for an unknown machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import attrs

from tests.rigs import daemons
from tests.rigs.daemons import free_port, wait_listening

#: Why the rig cannot run here, or None when it can.
MISSING = (
    None
    if shutil.which("tinyproxy")
    else "the proxy test rig needs the Debian package tinyproxy (run .ci/system-deps)"
)

_CONFIG = """\
Port {port}
Listen 127.0.0.1
Timeout 60
MaxClients 50
LogFile "{log}"
LogLevel Info
PidFile "{pid}"
Allow {allow}
DisableViaHeader Yes
"""


@attrs.define
class TinyProxy:
    port: int
    log: Path
    process: subprocess.Popen[bytes]
    username: str | None = None
    password: str | None = None

    @property
    def url(self) -> str:
        """The proxy's URL, with its credentials when it has some."""
        if self.username is None:
            return f"http://127.0.0.1:{self.port}"
        return f"http://{self.username}:{self.password}@127.0.0.1:{self.port}"

    def connects(self) -> list[str]:
        """The ``host:port`` of every CONNECT it has been asked for, in order."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return re.findall(r"Request \(file descriptor \d+\): CONNECT (\S+) HTTP", text)

    def stop(self) -> None:
        daemons.stop(self.process)


def start(
    directory: Path, credentials: tuple[str, str] | None = None, deny: bool = False
) -> TinyProxy:
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = directory / "tinyproxy.log"
    config = _CONFIG.format(
        port=port,
        log=log,
        pid=directory / "tinyproxy.pid",
        allow="192.0.2.1" if deny else "127.0.0.1",
    )
    if credentials is not None:
        config += f"BasicAuth {credentials[0]} {credentials[1]}\n"
    (directory / "tinyproxy.conf").write_text(config)
    process = subprocess.Popen(
        ["tinyproxy", "-d", "-c", str(directory / "tinyproxy.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proxy = TinyProxy(port, log, process, *(credentials or (None, None)))
    wait_listening(process, port, "tinyproxy", log)
    return proxy

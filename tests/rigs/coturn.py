"""A real TURN server for the tests: Debian's coturn (``turnserver``) on 127.0.0.1.

``start(directory)`` runs one ``turnserver`` with long-term credentials (``USERNAME``/
``PASSWORD``), UDP and TCP on one port, TLS on another (a certificate for 127.0.0.1 signed by a
throwaway CA whose PEM is ``ca_file``), peers on loopback allowed (``--allow-loopback-peers``:
the local server's media is on 127.0.0.1) and a verbose log. ``Coturn.allocations()`` reads the
log for the relay allocations it made, so a test can tell from the TURN server's side that the
media went through it. ``ice_server(transport)`` is the entry a ``LocalServer`` names.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs

from tests.rigs import daemons
from tests.rigs.daemons import free_port, wait_listening

USERNAME, PASSWORD, REALM = "navtalk", "turn-s3cret", "navtalk.test"

#: Why the rig cannot run here, or None when it can.
MISSING = (
    None
    if shutil.which("turnserver")
    else "the TURN test rig needs the Debian package coturn (run .ci/system-deps)"
)


@attrs.define
class Coturn:
    port: int
    tls_port: int
    log: Path
    ca_file: str
    process: subprocess.Popen[bytes]

    def ice_server(self, transport: str = "udp", password: str = PASSWORD) -> dict[str, Any]:
        """The ICE server entry for ``transport``: "udp", "tcp" or "tls"."""
        if transport == "tls":
            url = f"turns:127.0.0.1:{self.tls_port}?transport=tcp"
        else:
            url = f"turn:127.0.0.1:{self.port}?transport={transport}"
        return {"urls": [url], "username": USERNAME, "credential": password}

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def allocations(self) -> list[str]:
        """The transports (UDP, TCP, TLS...) of each allocation it made, in order."""
        return re.findall(r"session \d+: .*?new, realm=<[^>]*>, username=<[^>]*>, lifetime=\d+"
                          r"|ALLOCATE processed, success", self.log_text())  # fmt: skip

    def stop(self) -> None:
        daemons.stop(self.process)


def start(directory: Path) -> Coturn:
    import trustme

    directory.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = (directory / n for n in ("cert.pem", "key.pem", "ca.pem"))
    certificate.cert_chain_pems[0].write_to_path(str(cert_file))
    certificate.private_key_pem.write_to_path(str(key_file))
    authority.cert_pem.write_to_path(str(ca_file))
    port, tls_port = free_port(), free_port()
    log = directory / "turnserver.log"
    command = [
        "turnserver", "-n", "--no-stdout-log", f"--log-file={log}", "--simple-log", "--verbose",
        "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
        f"--tls-listening-port={tls_port}", f"--cert={cert_file}", f"--pkey={key_file}",
        "--lt-cred-mech", f"--user={USERNAME}:{PASSWORD}", f"--realm={REALM}",
        "--allow-loopback-peers", "--no-cli", "--no-dtls", "--no-multicast-peers",
        "--min-port=49152", "--max-port=65535", f"--pidfile={directory / 'turnserver.pid'}",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Coturn(port, tls_port, log, str(ca_file), process)
    wait_listening(process, tls_port, "turnserver", log)
    return server

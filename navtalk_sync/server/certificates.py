"""The local server's TLS: a throwaway CA made at start, and a certificate it signs for
``localhost`` and the loopback addresses (``trustme``, which builds on ``cryptography``).

The CA's certificate is written to a PEM file (``ca_file``) for clients to trust with
``ca_file=``; nothing is ever added to the system's store. The file is removed on ``close()``.
"""

from __future__ import annotations

import os
import shutil
import ssl
import tempfile

from ..errors import MissingExtra

__all__ = ["ThrowawayAuthority", "SERVER_NAMES"]

#: The names the server's certificate is valid for.
SERVER_NAMES = ("localhost", "127.0.0.1", "::1")


class ThrowawayAuthority:
    """A CA that lives as long as one server; ``server_context()`` serves with its certificate."""

    def __init__(self) -> None:
        try:  # only a server that serves TLS needs it
            import trustme
        except ModuleNotFoundError as exc:
            raise MissingExtra(
                "a local server with tls=True needs trustme, which is not installed: "
                "pip install 'navtalk-sync[server]'"
            ) from exc

        self._ca = trustme.CA(organization_name="navtalk_sync local server")
        self._folder = tempfile.mkdtemp(prefix="navtalk-local-ca-")
        self.ca_file = os.path.join(self._folder, "ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_file)

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._ca.issue_cert(*SERVER_NAMES).configure_cert(context)
        return context

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)

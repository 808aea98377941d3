"""Whom a ``wss://`` or ``https://`` connection trusts, and what to say when it does not.

Certificates are always verified: against the system's CAs by default, against a private CA
with ``ca_file=``, or as the ``ssl_context=`` the user made says. A refused certificate is a
``CertificateError`` that names the check which failed.
"""

from __future__ import annotations

import ssl

from .errors import CertificateError
from .options import NetworkOptions

__all__ = ["client_context", "certificate_error"]


def client_context(network: NetworkOptions) -> ssl.SSLContext:
    """The context for the client's TLS connections (WebSocket and avatar API)."""
    if network.ssl_context is not None:
        return network.ssl_context
    return ssl.create_default_context(cafile=network.ca_file)


def certificate_error(exc: ssl.SSLCertVerificationError, where: str) -> CertificateError:
    """The error for a certificate ``where`` (an address, no secrets) refused."""
    check = exc.verify_message or exc.reason or str(exc)
    return CertificateError(
        f"the TLS certificate of {where} was refused: {check} (certificate verification; to "
        "trust a private CA pass ca_file=...)",
        check,
    )

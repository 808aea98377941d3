"""Which HTTP proxy a connection goes through, and the CONNECT exchange that opens a tunnel.

The choice follows what requests and httpx do: an explicit ``proxy=`` URL is always used;
``proxy=None`` takes ``HTTPS_PROXY``/``https_proxy`` (``HTTP_PROXY`` for ``ws://``) from the
environment unless ``NO_PROXY`` names the host (by name or domain suffix, as urllib reads it:
no CIDR ranges), and never for a loopback host; ``proxy=False``
means none. No I/O (``dialer`` does the talking).
"""

from __future__ import annotations

import base64
import ipaddress
import urllib.request
from urllib.parse import quote, unquote, urlsplit

import attrs

from .logs import get_logger
from .redaction import redact

__all__ = ["Proxy", "proxy_for", "is_loopback", "connect_request", "read_reply", "MAX_REPLY_BYTES"]

log = get_logger(__name__)

#: A proxy's answer to CONNECT longer than this is not one.
MAX_REPLY_BYTES = 16 * 1024


@attrs.frozen(repr=False)
class Proxy:
    """An HTTP CONNECT proxy; ``address`` (host:port, no credentials) is what messages show."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def address(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """With its credentials: for a proxy handler, never for a message."""
        if self.username is None:
            return self.address
        credentials = f"{quote(self.username, safe='')}:{quote(self.password or '', safe='')}"
        return f"http://{credentials}@{self.host}:{self.port}"

    def __repr__(self) -> str:
        return f"<Proxy {self.address}>"

    @classmethod
    def from_url(cls, url: str) -> Proxy:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError("an HTTP proxy URL: http://[user:password@]host:port")
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        return cls(parts.hostname, parts.port or 80, username, password)


def proxy_for(setting: str | bool | None, host: str, secure: bool) -> Proxy | None:
    """The proxy for a connection to ``host`` (see the module's notes); ``setting`` is the
    ``proxy`` setting."""
    if setting is False:
        return None
    if isinstance(setting, str):
        return Proxy.from_url(setting)
    if is_loopback(host):
        return None
    environment = urllib.request.getproxies_environment()
    url = environment.get("https" if secure else "http")
    # NO_PROXY as urllib (and so requests) reads it; a stable function typeshed leaves out
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if not url or bypass(host, environment):
        return None
    try:
        return Proxy.from_url(url)
    except ValueError:  # an HTTPS or SOCKS proxy in the environment: not one we can use
        log.warning("the environment's proxy %s is not an http:// proxy: not used", redact(url))
        return None


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def connect_request(proxy: Proxy, host: str, port: int) -> bytes:
    """The CONNECT request for a tunnel to ``host:port`` (with Basic credentials if any)."""
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {target} HTTP/1.1", f"Host: {target}"]
    if proxy.username is not None:
        pair = f"{proxy.username}:{proxy.password or ''}".encode()
        lines.append(f"Proxy-Authorization: Basic {base64.b64encode(pair).decode('ascii')}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def read_reply(data: bytes) -> tuple[int, str] | None:
    """(status, reason) once ``data`` holds the proxy's whole answer head, else None; raises
    ``ValueError`` for an answer that is not HTTP."""
    head, found, _ = data.partition(b"\r\n\r\n")
    if not found:
        if len(data) > MAX_REPLY_BYTES:
            raise ValueError("no end to the proxy's answer")
        return None
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    version, _, rest = status_line.partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit():
        raise ValueError(f"not an HTTP answer: {status_line[:80]!r}")
    return int(code), reason.strip()

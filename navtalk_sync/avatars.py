"""Looking an avatar up over HTTPS (protocol.md#avatar-api), with the standard library.

``get_avatar`` asks ``GET /avatar/getByName?name=...`` or ``GET /avatar/detail?avatarId=...``
with the licence in a ``license`` header (never in the URL), checks the open-API envelope
(``{"code": 200, "message": ..., "data": {...}}``) and returns an ``AvatarInfo``.

The official SDKs use the answer's ``providerName``: only ``openai`` avatars take tools and
camera images. ``check_avatar`` does the same for a client's settings and warns
(``ProviderWarning``) when the tools it would send cannot work; the lookup is optional.

The licence appears in no log line, repr or exception: it only travels in the request header,
and every text taken from an answer passes through ``config.redact``. Redirects are not
followed, so the header never reaches another host.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import urllib.error
import urllib.request
import warnings
from typing import Any, Mapping
from urllib.parse import quote, urlsplit

import attrs

from .config import DEFAULT_URL, LICENSE_ENV, Settings
from .errors import AvatarLookupFailed, AvatarNotFound, InvalidArgument
from .logs import get_logger
from .options import NetworkOptions
from .proxies import proxy_for
from .redaction import known_secret, redact, redact_value
from .timeouts import check_seconds
from .tls import certificate_error, client_context

__all__ = [
    "AvatarInfo",
    "DEFAULT_API_URL",
    "ProviderWarning",
    "api_url_for",
    "check_avatar",
    "get_avatar",
]

log = get_logger(__name__)

#: The hosted open API (protocol.md#avatar-api).
DEFAULT_API_URL = "https://api.navtalk.ai/api/open/v1"
#: The open API's path on a self-hosted server (the local server serves it beside its WebSocket).
API_PATH = "/api/open/v1"
#: The one provider whose avatars take tools and images (compared case-insensitively).
OPENAI_PROVIDER = "openai"
#: An answer larger than this is not an avatar description.
MAX_ANSWER_BYTES = 1024 * 1024
_USER_AGENT = "navtalk-sync"


class ProviderWarning(UserWarning):
    """The avatar's provider cannot use something the client was asked to do (tools, images)."""


@attrs.frozen
class AvatarInfo:
    """One avatar as the open API describes it. Missing fields are None.

    ``thumbnail_url`` is ``thumbnailUrl``, or ``url`` when there is no thumbnail (the SDKs
    disagree on which to read); ``raw`` is the answer's ``data`` as received.
    """

    id: str | None
    name: str | None
    thumbnail_url: str | None
    url: str | None
    provider_id: str | None
    provider_name: str | None
    model: str | None
    voice: str | None
    first_message: str | None
    prompt: str | None
    status: str | None
    raw: Mapping[str, Any] = attrs.field(repr=False)

    @property
    def supports_tools_and_images(self) -> bool | None:
        """True for an OpenAI avatar, False for any other provider, None when none was named."""
        if self.provider_name is None:
            return None
        return self.provider_name.strip().lower() == OPENAI_PROVIDER

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> AvatarInfo:
        """An ``AvatarInfo`` from an answer's ``data`` object (tolerant of missing fields)."""

        def text(*keys: str) -> str | None:
            for key in keys:
                value = data.get(key)
                if value is not None and not isinstance(value, (dict, list)):
                    return str(value)
            return None

        return cls(
            id=text("id", "avatarId"),
            name=text("name"),
            thumbnail_url=text("thumbnailUrl", "url"),
            url=text("url"),
            provider_id=text("providerId"),
            provider_name=text("providerName"),
            model=text("model"),
            voice=text("voice"),
            first_message=text("firstMessage"),
            prompt=text("prompt"),
            status=text("status"),
            raw=dict(data),
        )


def get_avatar(
    license: str | None = None,
    *,
    name: str | None = None,
    avatar_id: str | None = None,
    base_url: str = DEFAULT_API_URL,
    timeout: float = 10.0,
    ca_file: str | os.PathLike[str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    proxy: str | bool | None = None,
    network: NetworkOptions | None = None,
) -> AvatarInfo:
    """Look one avatar up by ``avatar_id`` (``/avatar/detail``) or ``name`` (``/avatar/getByName``).

    ``avatar_id`` wins when both are given, as on the WebSocket. The licence defaults to
    ``$NAVTALK_LICENSE``. ``base_url`` is the open API's base (the hosted one, or a
    ``LocalServer``'s ``http_url``). ``ca_file``, ``ssl_context`` and ``proxy`` are the client's
    settings of those names (or pass a whole ``network=NetworkOptions(...)``).

    Raises ``AvatarNotFound`` for an unknown avatar, ``AvatarLookupFailed`` for a refused
    licence, an envelope ``code`` other than 200, an unreadable answer or an unreachable
    server, and ``InvalidArgument`` for bad arguments.
    """
    key = _licence(license)
    base = _base_url(base_url)
    seconds = check_seconds(timeout)
    if network is not None and (ca_file, ssl_context, proxy) != (None, None, None):
        raise InvalidArgument("pass network=... or ca_file/ssl_context/proxy, not both")
    if network is None:
        ca_path = os.fspath(ca_file) if isinstance(ca_file, os.PathLike) else ca_file
        network = NetworkOptions(ca_file=ca_path, ssl_context=ssl_context, proxy=proxy)
    if avatar_id is not None:
        what = f"avatar id {_text('avatar_id', avatar_id)!r}"
        url = f"{base}/avatar/detail?avatarId={quote(avatar_id, safe='')}"
    elif name is not None:
        what = f"avatar name {_text('name', name)!r}"
        url = f"{base}/avatar/getByName?name={quote(name, safe='')}"
    else:
        raise InvalidArgument("name an avatar: pass name=... or avatar_id=...")
    log.debug("looking up %s at %s", what, base)
    with known_secret(key):  # so redact() hides it in the answer, whatever its shape
        status, body = _fetch(url, key, seconds, network)
        data = redact_value(_unwrap(status, body, what))
        return AvatarInfo.from_data(_choose(data, name if avatar_id is None else None, what))


def api_url_for(ws_url: str) -> str:
    """The open API's base for a session URL: the hosted API for the hosted service, else the
    same host and port over http(s) (where the local server serves it)."""
    parts = urlsplit(ws_url)
    if ws_url == DEFAULT_URL or parts.hostname == urlsplit(DEFAULT_URL).hostname:
        return DEFAULT_API_URL
    scheme = "https" if parts.scheme == "wss" else "http"
    return f"{scheme}://{parts.netloc}{API_PATH}"


def check_avatar(
    settings: Settings, base_url: str | None = None, timeout: float = 10.0
) -> AvatarInfo:
    """Look up the avatar ``settings`` name and warn (``ProviderWarning``, also logged) when its
    provider is not OpenAI: tools will not be offered to it and images will not be understood.

    ``base_url`` defaults to ``api_url_for(settings.url)``. Returns the ``AvatarInfo``.
    """
    base = base_url if base_url is not None else api_url_for(settings.url)
    info = get_avatar(
        settings.license,
        name=settings.avatar_name,
        avatar_id=settings.avatar_id,
        base_url=base,
        timeout=timeout,
        network=settings.network,
    )
    for problem in provider_problems(info, has_tools=bool(settings.tools)):
        log.warning("%s", problem)
        warnings.warn(problem, ProviderWarning, stacklevel=2)
    return info


def provider_problems(info: AvatarInfo, has_tools: bool) -> list[str]:
    """What will not work with this avatar's provider (empty for OpenAI or an unknown one)."""
    if info.supports_tools_and_images is not False:
        return []
    who = f"avatar {info.name or info.id!r} uses provider {info.provider_name!r}, not openai"
    problems = [f"{who}: images sent with send_image() will not be understood"]
    if has_tools:
        problems.insert(
            0, f"{who}: its tools will not be called (configure them with the provider)"
        )
    return problems


# --------------------------------------------------------------------------- arguments


def _licence(license: str | None) -> str:
    key = os.environ.get(LICENSE_ENV) if license is None else license
    if not isinstance(key, str) or not key.strip():
        raise InvalidArgument(
            f"no licence: pass license=... or set the {LICENSE_ENV} environment variable"
        )
    # A header value with whitespace or control characters would be refused by http.client
    # with the value in its message; refuse it here without repeating it.
    if not key.isprintable() or any(ch.isspace() for ch in key):
        raise InvalidArgument("the licence must not contain whitespace or control characters")
    return key


def _text(argument: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{argument} must be a non-empty string, got {value!r}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(f"{argument} is not valid text (a lone surrogate?)") from None
    return value


def _base_url(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"base_url must be a string, got {type(value).__name__}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # reading it checks it
    except ValueError as exc:
        raise InvalidArgument(f"base_url is not a URL ({exc}): {redact(value)!r}") from None
    if parts.username is not None or parts.password is not None:
        raise InvalidArgument("base_url must not hold a user or password (the licence is sent)")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(
            f"base_url must be an https:// (or http://) URL with a host, got {redact(value)!r}"
        )
    if parts.query or parts.fragment:
        raise InvalidArgument(
            "base_url must not have a query or fragment (the licence goes in a header)"
        )
    return value.rstrip("/")


# --------------------------------------------------------------------------- HTTP


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: a redirected request would carry the licence header elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _opener(url: str, network: NetworkOptions) -> urllib.request.OpenerDirector:
    """No redirects, the client's trust, and its proxy (``proxies.proxy_for``) or none: never
    urllib's own reading of the environment, which would send loopback to a proxy."""
    parts = urlsplit(url)
    proxy = proxy_for(network.proxy, parts.hostname or "", parts.scheme == "https")
    return urllib.request.build_opener(
        _NoRedirect(),
        urllib.request.ProxyHandler({"http": proxy.url, "https": proxy.url} if proxy else {}),
        urllib.request.HTTPSHandler(context=client_context(network)),
    )


def _fetch(url: str, key: str, timeout: float, network: NetworkOptions) -> tuple[int, bytes]:
    """(HTTP status, body) of a GET; an error status is an answer too (its body is read)."""
    request = urllib.request.Request(
        url,
        headers={"license": key, "Accept": "application/json", "User-Agent": _USER_AGENT},
    )
    try:
        with _opener(url, network).open(request, timeout=timeout) as response:
            return response.status, response.read(MAX_ANSWER_BYTES + 1)
    except urllib.error.HTTPError as exc:  # an answer with an error status: keep its body
        with exc:
            try:
                return exc.code, exc.read(MAX_ANSWER_BYTES + 1)
            except (OSError, http.client.HTTPException):
                return exc.code, b""
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ssl.SSLCertVerificationError):
            reason = certificate_error(reason, _origin(url))
        failure = AvatarLookupFailed(
            f"the avatar API at {_origin(url)} could not be reached: {reason}"
        )
    raise failure  # out here: the original error must not ride along as its context


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --------------------------------------------------------------------------- the answer


def _unwrap(status: int, body: bytes, what: str) -> Any:
    """The envelope's ``data``; raises for an error status, an error code or a bad body."""
    envelope = _parse(body)
    code = envelope.get("code") if envelope is not None else None
    message = envelope.get("message") if envelope is not None else None
    message = redact(str(message)) if message is not None else None
    code_ok = code is None or str(code).strip() == "200"
    if status == 200 and envelope is not None and code_ok:
        return envelope.get("data")
    if status == 404 or str(code).strip() == "404":
        raise AvatarNotFound(f"{what} not found: {message or 'no such avatar'}", status, code)
    if envelope is None:
        detail = f"HTTP {status}" if status != 200 else "the answer is not a JSON object"
        raise AvatarLookupFailed(f"looking up {what} failed: {detail}", status)
    shown = f"code {code}" if code is not None else f"HTTP {status}"
    raise AvatarLookupFailed(
        f"looking up {what} failed ({shown}): {message or 'no message'}", status, code
    )


def _parse(body: bytes) -> Mapping[str, Any] | None:
    if len(body) > MAX_ANSWER_BYTES:
        return None
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _choose(data: Any, name: str | None, what: str) -> Mapping[str, Any]:
    """The avatar in ``data``: an object, or the best of a list (an exact name match first)."""
    if isinstance(data, list):
        avatars = [item for item in data if isinstance(item, dict)]
        exact = [item for item in avatars if name is not None and item.get("name") == name]
        data = (exact or avatars or [None])[0]  # type: ignore[list-item]
    if not isinstance(data, dict) or not data:
        raise AvatarNotFound(f"{what} not found: the answer has no avatar", 200, 200)
    return data

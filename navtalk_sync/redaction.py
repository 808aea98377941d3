"""Keeping secrets out of every text the library shows: messages, reprs, logs, events.

A secret is a licence (``sk_navtalk_…`` on the hosted service, but any string passed as
``license=`` counts) or a credential inside a URL (``ws://user:password@host``). They reach
text from our own settings and from the server, which may echo them back in any message, so
redaction happens where text enters (frames, close reasons, HTTP answers) and again where it
leaves (exceptions, reprs, the logging filter): ``redact()`` is the one function for both.

Licences of any shape are known here while a ``Settings`` object holds them
(``remember_secret``), and the last 32 of those whose owners are gone are still hidden: a
process that makes clients for many licences does not accumulate them without end.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import re
import threading
import urllib.parse
import weakref
from typing import Any, Iterator

__all__ = [
    "may_hold_secret",
    "install_redaction",
    "known_secret",
    "redact",
    "redact_value",
    "remember_secret",
]

_KEY_PATTERN = re.compile(r"sk_navtalk_[A-Za-z0-9_\-]*")
_QUERY_PATTERN = re.compile(r"(license=)[^&#\s'\"]+", re.IGNORECASE)
#: ``scheme://user:password@`` or ``scheme://token@``: everything between ``//`` and the last
#: ``@`` before the path (a password may hold an ``@``, or quotes). A scheme starts where no
#: scheme character precedes it, and user information is at most 1,024 characters: without
#: these bounds a long run of letters (a base64 frame) costs time quadratic in its length.
_USERINFO_PATTERN = re.compile(r"(?<![A-Za-z0-9+.\-])([A-Za-z][A-Za-z0-9+.\-]*://)[^/\s]{0,1024}@")
#: What any text a pattern hides contains; a backslash, because JSON text may spell a secret
#: with escapes that decoding undoes. A frame with none of these needs no deeper look.
_MARKERS = ("sk_navtalk_", "://", "icense", "ICENSE", "\\")

#: Secrets shorter than this are not hidden by their value: hiding every "k" or "any" in every
#: text would make logs unreadable, and no real licence is that short (NavTalk's have 43
#: characters). The patterns above still hide them in URLs and ``license=`` values.
MIN_SECRET_LENGTH = 6

_secrets: collections.Counter[str] = collections.Counter()
_known_now: tuple[str, ...] = ()  # longest first; replaced (not changed) when secrets change
#: Secrets whose owners are gone, still hidden for a while (text made from them may linger).
_recent: collections.deque[str] = collections.deque(maxlen=32)
#: Secrets to forget, appended by finalizers. A finalizer runs wherever the garbage collector
#: happens to run, even inside ``_secrets_lock``: it must never take the lock, only append.
_forgotten: collections.deque[str] = collections.deque()
_secrets_lock = threading.Lock()


def remember_secret(secret: str, owner: object) -> None:
    """Redact ``secret`` wherever it appears for as long as ``owner`` is alive."""
    if len(secret) < MIN_SECRET_LENGTH:
        return
    with _secrets_lock:
        _secrets[secret] += 1
        _update_known()
    weakref.finalize(owner, _forgotten.append, secret)


@contextlib.contextmanager
def known_secret(secret: str) -> Iterator[None]:
    """Redact ``secret`` wherever it appears while the ``with`` block runs."""
    known = len(secret) >= MIN_SECRET_LENGTH
    if known:
        with _secrets_lock:
            _secrets[secret] += 1
            _update_known()
    try:
        yield
    finally:
        if known:
            _forgotten.append(secret)


def _update_known() -> None:
    """(under the lock) Forget what finalizers asked to; then every secret and its
    percent-encoded form, longest first."""
    global _known_now
    while _forgotten:
        secret = _forgotten.popleft()
        _secrets[secret] -= 1
        if _secrets[secret] <= 0:
            del _secrets[secret]
            if secret not in _recent:
                _recent.append(secret)
    secrets = {*_secrets, *_recent}
    secrets |= {urllib.parse.quote(secret, safe="") for secret in secrets}
    _known_now = tuple(sorted(secrets, key=len, reverse=True))


def _known() -> tuple[str, ...]:
    if _forgotten:
        with _secrets_lock:
            _update_known()
    return _known_now


def redact(text: str) -> str:
    """``text`` with every secret hidden.

    ``sk_navtalk_…`` becomes ``sk_***``, ``license=…`` becomes ``license=***``, the user
    information of a URL (``ws://user:pass@host``) becomes ``ws://***@host``, and every licence
    a live ``Settings`` holds (whatever its shape) is hidden too.
    """
    for secret in _known():
        if secret in text:
            text = text.replace(secret, "sk_***" if secret.startswith("sk_") else "***")
    text = _KEY_PATTERN.sub("sk_***", text)
    if "://" in text:
        text = _USERINFO_PATTERN.sub(r"\1***@", text)
    return _QUERY_PATTERN.sub(r"\1***", text)


def may_hold_secret(text: str) -> bool:
    """Whether ``text`` (JSON text, say) may hold a secret, once decoded: a cheap look, for
    frames are many. False means surely not; True, that the decoded value needs redacting."""
    return any(secret in text for secret in _known()) or any(m in text for m in _MARKERS)


def redact_value(value: Any) -> Any:
    """A copy of a decoded JSON value with every string in it redacted, keys too (without
    recursion: a frame may be nested as deeply as the JSON decoder goes)."""
    if isinstance(value, str):
        return redact(value)
    if not isinstance(value, (dict, list)):
        return value
    root: Any = {} if isinstance(value, dict) else [None] * len(value)
    stack: list[tuple[Any, Any]] = [(value, root)]
    while stack:
        source, target = stack.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, item in items:
            if isinstance(item, (dict, list)):
                copy: Any = {} if isinstance(item, dict) else [None] * len(item)
                stack.append((item, copy))
            else:
                copy = redact(item) if isinstance(item, str) else item
            target[redact(key) if isinstance(key, str) else key] = copy
    return root


class _RedactingFilter(logging.Filter):
    """Rewrites a log record's message so no secret reaches any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logger's problem, not ours
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            # a traceback's text is made from the exception's str(): keep it clean too
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


_FILTER = _RedactingFilter()


def install_redaction(*logger_names: str) -> None:
    """Attach the redacting filter to these loggers (idempotent).

    Filters apply only to records created on the logger itself, so each module's logger gets it,
    and so does websocket-client's ``websocket`` logger, whose trace output prints the URL.
    """
    for name in logger_names:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)

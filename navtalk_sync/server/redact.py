"""Keeping the licence out of the server's logs.

The licence travels in the upgrade request's query string, and ``websockets`` logs the request
line at DEBUG level. Its logger is therefore wrapped in ``RedactingLogger``, which formats each
message itself and removes every ``license=`` value (ours or a client's wrong guess) and the
server's own key before the record exists. ``websockets`` also logs every frame it sends or
receives, cut short in the middle, where a cut secret can no longer be recognised: those lines
keep the frame's kind and length, never its content. The server's own modules log through
``navtalk_sync.logs``, whose filter hides the key too (the server registers it).
"""

from __future__ import annotations

import logging
import re
from typing import Any, Mapping

from .. import redaction

__all__ = ["RedactingLogger", "redact"]

#: The avatar API takes the licence as a header too; websockets logs request headers at DEBUG.
_HEADER_LICENSE = re.compile(r"^(<?\s*license:[ \t]*)\S.*$", re.IGNORECASE | re.MULTILINE)
#: websockets' frame lines: ``> TEXT '{"type": ...}' [106 bytes]``.
_FRAME_DUMP = re.compile(
    r"^([<>] (?:TEXT|BINARY|CONT|CLOSE|PING|PONG)) .*?(\[\d+ bytes?\])?$", re.S
)


def redact(text: str, secret: str | None = None) -> str:
    """``text`` without licences: what ``redaction.redact`` hides (keys, ``license=`` values,
    every licence a client or server holds), ``secret``, and a ``license:`` header's value."""
    if secret:
        text = text.replace(secret, "sk_***")
    return redaction.redact(_HEADER_LICENSE.sub(r"\1***", text))


class RedactingLogger(logging.LoggerAdapter):  # type: ignore[type-arg]  # generic only in 3.11+
    """A logger adapter that redacts licences; INFO from the library is lowered to DEBUG.

    ``websockets`` reports every connection at INFO; for an embedded test server that is
    noise, so it is logged at DEBUG like the rest of the server.
    """

    def __init__(self, logger: logging.Logger, secret: str) -> None:
        super().__init__(logger, {})
        self._secret = secret

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if level == logging.INFO:
            level = logging.DEBUG
        if not self.isEnabledFor(level):
            return
        text = str(msg)
        if args:
            values: Any = args[0] if len(args) == 1 and isinstance(args[0], Mapping) else args
            try:
                text = text % values
            except (TypeError, ValueError, KeyError):
                text = f"{text} {args!r}"
        kwargs.setdefault("stacklevel", 2)
        text = _FRAME_DUMP.sub(lambda m: f"{m.group(1)} {m.group(2) or ''}".rstrip(), text)
        self.logger.log(level, redact(text, self._secret), **kwargs)

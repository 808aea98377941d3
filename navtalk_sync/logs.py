"""The library's loggers: secrets redacted, and lines that can repeat limited.

``get_logger(__name__)`` is how every module gets its logger: the redacting filter
(``redaction.py``) is attached to it, so no module can forget it.

Some log lines repeat as often as something outside the library makes them: one per
malformed frame a server sends, per pause of a flooded reader, per frame a failing callback
gets. ``RepeatLimiter`` logs the first at once, then at most one every ``REPEAT_INTERVAL``
seconds, saying how many it held back, so a flood costs a line every few seconds, not
thousands.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .redaction import install_redaction

__all__ = ["REPEAT_INTERVAL", "RepeatLimiter", "get_logger"]

#: Seconds between two lines of one ``RepeatLimiter``.
REPEAT_INTERVAL = 10.0


def get_logger(name: str) -> logging.Logger:
    """The logger called ``name``, with secrets redacted from everything it logs."""
    install_redaction(name)
    return logging.getLogger(name)


class RepeatLimiter:
    """One log line that may repeat: the first is logged, then one per ``interval``."""

    def __init__(self, logger: logging.Logger, interval: float = REPEAT_INTERVAL) -> None:
        self._logger = logger
        self._interval = interval
        self._lock = threading.Lock()
        self._next = 0.0
        self._held = 0
        self.count = 0

    def log(self, level: int, message: str, *args: Any, **kwargs: Any) -> bool:
        """Log ``message % args`` unless one was logged less than ``interval`` ago; True when
        logged. The line says how many were held back since the last one."""
        now = time.monotonic()
        with self._lock:
            self.count += 1
            if now < self._next:
                self._held += 1
                return False
            held, self._held = self._held, 0
            self._next = now + self._interval
        if held:
            message = f"{message} (and {held} more like it in the last {self._interval:g} s)"
        kwargs.setdefault("stacklevel", 2)
        self._logger.log(level, message, *args, **kwargs)
        return True

    def warning(self, message: str, *args: Any, **kwargs: Any) -> bool:
        kwargs.setdefault("stacklevel", 3)
        return self.log(logging.WARNING, message, *args, **kwargs)

"""Suite-wide guards: no thread outlives its test, and no licence reaches a log line."""

from __future__ import annotations

import logging
import re
import threading
import time

import pytest

LICENCE_PATTERN = re.compile(r"sk_navtalk_[A-Za-z0-9]")


def _navtalk_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("navtalk-")}


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail a test that leaves a ``navtalk-*`` thread running (after a short grace period)."""
    before = _navtalk_threads()
    yield
    deadline = time.monotonic() + 3.0
    leaked = _navtalk_threads() - before
    while leaked and time.monotonic() < deadline:
        time.sleep(0.02)
        leaked = {t for t in leaked if t.is_alive()}
    assert not leaked, f"threads left running: {sorted(t.name for t in leaked)}"


@pytest.fixture(autouse=True)
def no_licence_in_logs(caplog):
    """Every test runs with DEBUG logging captured; no licence may appear in it."""
    caplog.set_level(logging.DEBUG)
    yield
    text = caplog.text
    match = LICENCE_PATTERN.search(text)
    context = text[max(0, match.start() - 80) : match.start()] if match else ""
    assert match is None, f"a licence leaked into the logs, after: {context!r}"

"""examples/worker.py hands every event to the app's own worker thread through a bounded queue."""

from __future__ import annotations

import pytest

from tests.helpers import run_example


@pytest.mark.timeout(60)
def test_worker_example_sees_the_whole_session_in_order_and_stops_cleanly():
    lines = run_example("worker.py", timeout=50).stdout.splitlines()
    assert lines == [
        "worker: state idle -> connecting",
        "worker: state connecting -> configuring",
        "worker: state configuring -> connected",
        "worker: state connected -> session_ready",
        "worker: the avatar said "
        "'I can chat with you, answer simple questions and repeat what you say.'",
        "worker: state session_ready -> closing",
        "worker: state closing -> closed",
        "worker: the session ended",
        "worker: stopped",  # the sentinel came after the last event
        "dropped 0 event(s)",
    ]

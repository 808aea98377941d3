"""The asyncio portal the WebRTC layer runs on: results, errors, timeouts, shutdown."""

from __future__ import annotations

import asyncio
import threading

import pytest

import navtalk_sync as nt
from navtalk_sync.rtc import LoopThread

pytestmark = pytest.mark.timeout(20)


@pytest.fixture
def loop_thread():
    portal = LoopThread().start()
    yield portal
    portal.stop()


def test_runs_coroutines_on_its_own_named_thread(loop_thread):
    async def where() -> str:
        await asyncio.sleep(0)
        return threading.current_thread().name

    assert loop_thread.run(where(), timeout=5) == "navtalk-rtc"
    assert not loop_thread.in_loop()


def test_errors_come_back_to_the_caller(loop_thread):
    async def broken() -> None:
        raise ValueError("inside the loop")

    with pytest.raises(ValueError, match="inside the loop"):
        loop_thread.run(broken(), timeout=5)
    assert loop_thread.run(asyncio.sleep(0, result=7), timeout=5) == 7  # still usable


def test_a_timeout_cancels_the_coroutine(loop_thread):
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with pytest.raises(nt.NavTalkTimeout, match="the offer"):
        loop_thread.run(forever(), timeout=0.1, what="the offer")
    assert cancelled.wait(5)


def test_calling_run_from_the_loop_thread_is_refused(loop_thread):
    async def reenter() -> str:
        try:
            loop_thread.run(asyncio.sleep(0), timeout=1)
        except nt.NavTalkError as exc:
            return str(exc)
        return "no error"

    assert "own loop thread" in loop_thread.run(reenter(), timeout=5)


def test_stop_cancels_pending_work_and_joins():
    portal = LoopThread().start()
    started, cancelled = threading.Event(), threading.Event()

    async def pending() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    portal.submit(pending())
    assert started.wait(5)
    portal.stop()
    portal.stop()  # idempotent
    assert cancelled.is_set()
    assert not [t for t in threading.enumerate() if t.name == "navtalk-rtc"]
    with pytest.raises(nt.NotConnected):
        portal.run(asyncio.sleep(0), timeout=1)
    with pytest.raises(nt.NotConnected):
        portal.start()


def test_a_runtime_error_of_the_coroutine_is_raised_as_it_is():
    portal = LoopThread("test-loop").start()
    try:

        async def broken() -> None:
            raise RuntimeError("a bug in the coroutine")

        with pytest.raises(RuntimeError, match="a bug in the coroutine"):
            portal.run(broken(), 5)
    finally:
        portal.stop()

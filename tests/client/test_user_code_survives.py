"""Whatever user code or a server throws at a thread that runs it, the thread goes on.

Tools, ``on_video_frame`` and ``on_avatar_audio`` callbacks, the image feed's source and
``after_reply`` jobs raise ``SystemExit``, ``KeyboardInterrupt`` and errors no one expects; a
server sends tool arguments no converter takes. Each failure is reported (an event, a log line)
and the next piece of work is done as usual.
"""

from __future__ import annotations

import json
import threading

import pytest

import navtalk_sync as nt
from navtalk_sync import events as ev
from tests.helpers import client_for, wait_until

pytestmark = pytest.mark.timeout(60)

CALL_DONE = "realtime.response.function_call_arguments.done"
DEADLY = [SystemExit(3), KeyboardInterrupt(), RecursionError("deep"), MemoryError()]


def call_frame(name: str, call_id: str, arguments) -> dict:
    return {"type": CALL_DONE, "data": {"function_name": name, "call_id": call_id,
                                        "arguments": arguments}}  # fmt: skip


def outputs(server) -> dict[str, dict]:
    """call id -> the decoded output the server received for it."""
    items = [m.message["item"] for m in server.messages("conversation.item.create")]
    return {
        item["call_id"]: json.loads(item["output"])
        for item in items
        if item["type"] == "function_call_output"
    }


def test_tools_that_raise_anything_are_answered_and_the_workers_go_on(server):
    failures: list[ev.ToolFailure] = []
    with client_for(server, media=False) as client:
        calls = iter(DEADLY * 2)  # twice as many as there are workers

        @client.tool
        def deadly() -> str:
            """Raises something a worker must survive."""
            raise next(calls)

        @client.tool
        def fine(n: int) -> dict:
            """Works."""
            return {"n": n}

        client.on(ev.ToolFailure, failures.append)
        client.connect(timeout=10)
        for index in range(len(DEADLY) * 2):
            server.send_event(call_frame("deadly", f"d{index}", {}))
        server.send_event(call_frame("fine", "ok", {"n": 7}))
        wait_until(lambda: len(outputs(server)) == len(DEADLY) * 2 + 1, timeout=15)
        answered = outputs(server)
        workers = [t for t in threading.enumerate() if t.name.startswith("navtalk-tool-")]

    assert answered["ok"] == {"n": 7}
    for index in range(len(DEADLY) * 2):
        assert answered[f"d{index}"]["status"] == "error"
    kinds = {type(f.error).__name__ for f in failures}
    assert kinds == {"SystemExit", "KeyboardInterrupt", "RecursionError", "MemoryError"}
    assert all(f.kind == "raised" for f in failures)
    assert len([t for t in workers if t.name != "navtalk-tool-timer"]) == 4


def test_arguments_no_converter_takes_are_bad_arguments_not_a_dead_worker(server):
    failures: list[ev.ToolFailure] = []
    with client_for(server, media=False) as client:

        @client.tool
        def count(n: int, x: float = 0.0) -> int:
            """Counts."""
            return n

        client.on(ev.ToolFailure, failures.append)
        client.connect(timeout=10)
        huge = "9" * 5000  # int() refuses more than 4300 digits
        arguments = '{"n": ' + huge + "}"  # a number in the JSON text itself
        server.send_raw(
            f'{{"type": "{CALL_DONE}", "data": {{"function_name": "count", "call_id": "big", '
            f'"arguments": {arguments}}}}}'
        )
        server.send_event(call_frame("count", "quoted", {"n": huge}))
        server.send_event(call_frame("count", "x", {"n": 1, "x": "1e999999"}))
        for index in range(4):
            server.send_event(call_frame("count", f"ok{index}", {"n": index}))
        wait_until(lambda: len(outputs(server)) == 7, timeout=15)
        answered = outputs(server)

    assert answered["big"]["status"] == "error"  # read as a float (inf): not an integer
    assert "5000 digits" in answered["quoted"]["error"]
    assert answered["x"]["status"] == "error"
    assert [answered[f"ok{i}"] for i in range(4)] == [0, 1, 2, 3]
    assert [f.kind for f in failures] == ["bad_arguments"] * 3


def test_a_result_json_cannot_encode_is_a_bad_result(server):
    failures: list[ev.ToolFailure] = []
    with client_for(server, media=False) as client:

        @client.tool
        def nested() -> list:
            """Returns a list nested deeper than json.dumps goes."""
            result: list = []
            for _ in range(100_000):
                result = [result]
            return result

        @client.tool
        def circular() -> dict:
            """Returns a dict that contains itself."""
            value: dict = {}
            value["self"] = value
            return value

        client.on(ev.ToolFailure, failures.append)
        client.connect(timeout=10)
        for index in range(5):
            server.send_event(call_frame("nested", f"n{index}", {}))
        server.send_event(call_frame("circular", "c", {}))
        wait_until(lambda: len(outputs(server)) == 6, timeout=20)

    assert {f.kind for f in failures} == {"bad_result"}
    assert len(failures) == 6


@pytest.mark.parametrize("error", DEADLY, ids=lambda e: type(e).__name__)
def test_a_video_callback_that_raises_anything_gets_the_next_frames(server, error):
    frames: list[nt.VideoFrame] = []
    reports: list[ev.CallbackFailure] = []
    with client_for(server) as client:

        @client.on_video_frame
        def show(frame):
            frames.append(frame)
            if len(frames) == 1:
                raise error

        client.on(ev.CallbackFailure, reports.append)
        client.connect(timeout=10)
        wait_until(lambda: len(frames) >= 5, timeout=15)
        wait_until(lambda: reports, timeout=5)

    assert reports[0].error is error and reports[0].callback.endswith("show")


@pytest.mark.parametrize("error", DEADLY, ids=lambda e: type(e).__name__)
def test_an_avatar_audio_callback_that_raises_anything_gets_the_next_chunks(server, error):
    chunks: list[nt.AvatarAudio] = []
    reports: list[ev.CallbackFailure] = []
    with client_for(server) as client:

        @client.on_avatar_audio
        def listen(chunk):
            chunks.append(chunk)
            if len(chunks) == 1:
                raise error

        client.on(ev.CallbackFailure, reports.append)
        client.connect(timeout=10)
        wait_until(lambda: len(chunks) >= 10, timeout=15)
        wait_until(lambda: reports, timeout=5)

    assert reports[0].error is error


def test_an_image_source_that_raises_anything_skips_a_period_and_the_feed_goes_on(server):
    import numpy as np

    calls: list[int] = []
    reports: list[ev.CallbackFailure] = []

    def camera():
        calls.append(1)
        if len(calls) == 1:
            raise SystemExit(1)
        return np.zeros((32, 32, 3), np.uint8)

    with client_for(server, media=False) as client:
        client.on(ev.CallbackFailure, reports.append)
        client.connect(timeout=10)
        client.start_image_feed(camera)
        wait_until(lambda: len(server.messages("realtime.input_image")) == 1, timeout=15)
        stats = client.stats()

    assert stats["images_skipped"] == 1 and stats["images_sent"] == 1
    assert [type(r.error) for r in reports] == [SystemExit]


def test_after_reply_jobs_that_raise_anything_leave_the_pool_working(server):
    ran: list[str] = []
    reports: list[ev.CallbackFailure] = []
    with client_for(server, media=False) as client:
        client.on(ev.CallbackFailure, reports.append)
        client.connect(timeout=10)

        def deadly():
            ran.append("deadly")
            raise KeyboardInterrupt

        for _ in range(5):  # more than there are workers
            client.after_reply(deadly, grace=0.0)
        client.after_reply(lambda: ran.append("fine"), grace=0.0)
        wait_until(lambda: "fine" in ran and len(ran) == 6, timeout=15)
        wait_until(lambda: len(reports) == 5, timeout=5)

    assert {type(r.error) for r in reports} == {KeyboardInterrupt}

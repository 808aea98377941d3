"""How often a script's blocking call and its callbacks disagree, this tree beside an earlier one.

Reproduce:  .venv/bin/python bench/ordering.py [--baseline REF]

1. ``connect()`` with ``client.on("*", seen.append)`` registered first: runs (of 30) in which
   ``seen`` did not yet hold ``realtime.session.updated`` when connect() returned.
2. ``send_text()`` then ``wait_for("realtime.response.audio.done")``: runs (of 30) in which the
   event returned was not yet in ``seen``.
3. A spoken question sent with ``send_file()`` (paced, 1.5 s of silence at its end), then
   ``wait_for(<the transcript>, 3)``: runs (of 8) that missed the transcript, because it came
   while ``send_file()`` was still sending. Then the same with ``expect()`` around
   ``send_file()`` (a baseline without ``expect()`` shows it failed).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.helpers: the voice

TRANSCRIPT = "realtime.conversation.item.input_audio_transcription.completed"


def _client(server: Any) -> Any:
    import navtalk_sync as nt

    return nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url, media=False)


def connect_against_callbacks() -> dict[str, Any]:
    from navtalk_sync.server import LocalServer

    behind = 0
    with LocalServer() as server:
        for _ in range(30):
            seen: list[Any] = []
            with _client(server) as client:
                client.on("*", seen.append)
                client.connect(timeout=10)
                behind += not any(e.type == "realtime.session.updated" for e in seen)
    return {"runs behind (of 30)": behind}


def wait_for_against_callbacks() -> dict[str, Any]:
    from navtalk_sync.server import LocalServer

    behind = 0
    with LocalServer() as server, _client(server) as client:
        seen: list[Any] = []
        client.on("*", seen.append)
        client.connect(timeout=10)
        for run in range(30):
            client.send_text(f"question {run}")
            done = client.wait_for("realtime.response.audio.done", timeout=10)
            behind += done not in seen
    return {"runs behind (of 30)": behind}


def transcript_of_a_sent_file() -> dict[str, Any]:
    import navtalk_sync as nt
    from navtalk_sync.server import LocalServer

    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder, LocalServer() as server:
        from tests.helpers import question_wav

        path = question_wav(folder, end_pad=1.5)  # a pause at its end: sent paced, it lasts
        with _client(server) as client:
            client.connect(timeout=10)
            missed = 0
            for _ in range(8):
                client.send_file(path)
                try:
                    client.wait_for(TRANSCRIPT, timeout=3)
                except nt.NavTalkTimeout:
                    missed += 1
            figures["wait_for after send_file: missed (of 8)"] = missed
            if not hasattr(client, "expect"):
                figures["expect around send_file: missed (of 8)"] = "no expect()"
                return figures
            missed = 0
            for _ in range(8):
                with client.expect(TRANSCRIPT) as heard:
                    client.send_file(path)
                try:
                    heard.result(timeout=3)
                except nt.NavTalkTimeout:
                    missed += 1
            figures["expect around send_file: missed (of 8)"] = missed
    return figures


MEASURES = {
    "1 connect() vs callbacks": connect_against_callbacks,
    "2 wait_for() vs callbacks": wait_for_against_callbacks,
    "3 a sent file's transcript": transcript_of_a_sent_file,
}


if __name__ == "__main__":
    import versus

    versus.main("ordering", __doc__.splitlines()[0], MEASURES)

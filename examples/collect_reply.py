"""Collect a reply in a callback, wait for its end, print what was collected.

When ``wait_for()`` returns, every callback for the event it returned on (and for every
event before it) has already run: the collected text is the whole reply.
"""

import navtalk_sync as nt
from navtalk_sync.server import LocalServer

with (
    LocalServer() as server,
    nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url) as client,
):
    pieces: list[str] = []
    client.on("realtime.response.audio_transcript.delta", lambda e: pieces.append(e.text))
    client.connect(timeout=10)
    client.send_text("What can you do?")
    client.wait_for("realtime.response.audio.done", timeout=30)
    print("avatar:", "".join(pieces))

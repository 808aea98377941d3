"""The smallest conversation: start the local server, connect, ask, print the answer."""

import navtalk_sync as nt
from navtalk_sync.server import LocalServer

with (
    LocalServer() as server,
    nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url) as client,
):
    # Callbacks run on the dispatcher thread, in the order the events arrived.
    client.on("realtime.response.audio_transcript.done", lambda e: print("avatar:", e.text))
    client.connect(timeout=10)
    print("you:    What can you do?")
    client.ask("What can you do?", timeout=10)  # also returns the reply text

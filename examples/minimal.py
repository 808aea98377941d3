"""The smallest conversation: start the local server, connect, ask, print the answer."""

import navtalk_sync as nt
from navtalk_sync.server import LocalServer

with (
    LocalServer() as server,
    nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url) as client,
):
    client.on(
        "realtime.response.audio_transcript.delta", lambda e: print(e.text, end="", flush=True)
    )
    client.connect(timeout=10)
    answer = client.ask("What can you do?", timeout=10)
    print("\nfull reply:", answer)

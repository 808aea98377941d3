"""Continue yesterday's conversation: save a session's history, replay it into a new one.

    python examples/history.py [history.json]

Runs against the local server (no licence needed). The server forgets everything when a
connection ends; the second session knows the room number only because the first session's
user turns are replayed into it (protocol.md#history-replay).
"""

import sys
import tempfile
from pathlib import Path

import navtalk_sync as nt
from navtalk_sync.server import LocalServer
from navtalk_sync.server.brain import BrainRequest, RuleBrain


def concierge(request: BrainRequest) -> str:
    """A brain that remembers: it answers from the user's earlier turns in this session."""
    if request.text and "which room" in request.text.lower():
        told = [turn for turn in request.history[:-1] if "room" in turn.lower()]
        return f"Earlier you told me: {told[-1]}" if told else "You have not told me yet."
    return RuleBrain()(request).text


def talk(client: nt.NavTalkClient, text: str) -> None:
    print("you:   ", text)
    print("avatar:", client.ask(text, timeout=10))


path = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()) / "yesterday.json"

with LocalServer(brain=concierge) as server:
    # media=False: a text conversation, no need for the avatar's picture and voice here
    print("-- yesterday --")
    with nt.NavTalkClient(
        server.license, avatar_name="navtalk.Leo", url=server.url, media=False
    ) as client:
        client.connect(timeout=10)
        talk(client, "I booked room 12 for two nights.")
        client.history.save(path)
    print(f"saved {len(client.history)} turns to {path.name}")

    print("-- today --")
    history = nt.History.load(path)
    with nt.NavTalkClient(
        server.license,
        avatar_name="navtalk.Leo",
        url=server.url,
        media=False,
        history=history,  # its user turns are replayed after realtime.session.created
        history_max_turns=20,  # only the latest turns, if it grows long
    ) as client:
        client.connect(timeout=10)
        print(f"replayed {len(history.user_texts())} user turn(s)")
        talk(client, "Which room did I book?")
        client.history.save(path)  # yesterday's turns and today's, for tomorrow
    print(f"saved {len(client.history)} turns to {path.name}")

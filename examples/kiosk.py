"""A kiosk that keeps its conversation through a dropped connection.

    python examples/kiosk.py

Runs against the local server (no licence needed), which drops the connection mid-conversation
the way a flaky network would. With ``reconnect=True`` the client opens a new session on its
own, replays what the visitor said, and the conversation goes on; the visitor only notices a
short pause. Callbacks report each step.
"""

import threading

import navtalk_sync as nt
from navtalk_sync.server import LocalServer
from navtalk_sync.server.brain import BrainRequest, RuleBrain


def concierge(request: BrainRequest) -> str:
    """A brain that answers from the visitor's earlier turns in this session."""
    if request.text and "my name" in request.text.lower() and "?" in request.text:
        told = [turn for turn in request.history[:-1] if "name is" in turn.lower()]
        return f"Earlier you told me: {told[-1]}" if told else "You have not told me yet."
    return RuleBrain()(request).text


def talk(client: nt.NavTalkClient, text: str) -> None:
    print("visitor:", text)
    print("avatar: ", client.ask(text, timeout=15))


back = threading.Event()
policy = nt.ReconnectPolicy(first_delay=0.2, max_attempts=10)  # or reconnect=True: defaults

with (
    LocalServer(brain=concierge) as server,
    nt.NavTalkClient(
        server.license, avatar_name="navtalk.Leo", url=server.url, reconnect=policy
    ) as client,
):

    @client.on("client.disconnected")
    def lost(event):
        if event.reconnecting:
            print("(connection lost; reconnecting)")
        else:
            print(f"(the conversation is over: {event.error or 'closed'})")

    @client.on("client.reconnected")
    def recovered(event):
        print(f"(back after {event.attempts} attempt(s); "
              f"{event.replayed_turns} turn(s) replayed)")  # fmt: skip
        back.set()

    client.connect(timeout=15)
    talk(client, "Hello, my name is Ada.")

    server.drop_connections()  # the network fails: no close frame, nothing
    if not back.wait(30):
        raise SystemExit("the client did not reconnect")

    talk(client, "Do you remember my name?")
    stats = client.stats()
    print(f"sessions: {stats['sessions']}, reconnects: {stats['reconnects']}")

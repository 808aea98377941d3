"""A text chat in the terminal: type a line, watch the reply stream in; ``quit`` ends.

    python examples/text_chat.py
    printf 'hello\\nquit\\n' | python examples/text_chat.py

Runs against the local server (no licence needed). The reply is printed piece by piece as
its transcript deltas arrive, the way a chat window fills in.
"""

import sys
import threading

import navtalk_sync as nt
from navtalk_sync.server import LocalServer

reply_done = threading.Event()


def show_piece(event: nt.Event) -> None:
    print(event.text, end="", flush=True)  # a delta: part of the reply, no newline yet


def end_reply(event: nt.Event) -> None:
    print()
    reply_done.set()


def read_lines():
    """The user's lines: a prompt when someone types, an echo when the input is piped."""
    typing = sys.stdin.isatty()
    while True:
        try:
            line = input("you:    " if typing else "").strip()
        except EOFError:
            return
        if not typing and line:
            print("you:   ", line)
        yield line


with (
    LocalServer() as server,
    # media=False: text only, no need for the avatar's picture and voice
    nt.NavTalkClient(
        server.license, avatar_name="navtalk.Leo", url=server.url, media=False
    ) as client,
):
    # Both run on the dispatcher thread, in arrival order: the newline comes after every piece.
    client.on("realtime.response.audio_transcript.delta", show_piece)
    client.on("realtime.response.audio_transcript.done", end_reply)
    client.connect(timeout=10)
    for line in read_lines():
        if line == "quit":
            break
        if not line:
            continue
        reply_done.clear()
        print("avatar: ", end="", flush=True)
        client.send_text(line)
        if not reply_done.wait(30):
            print("\n(no reply within 30 s)")
print("bye")

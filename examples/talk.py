"""Say a recorded question with ``talk()`` and print what was heard, the answer and the
moments a person notices (seconds from the end of your speech).

    python examples/talk.py question.wav
"""

import sys

import navtalk_sync as nt
from navtalk_sync.server import LocalServer

with (
    LocalServer() as server,
    nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", url=server.url) as client,
):
    client.connect(timeout=10)
    turn = client.talk(sys.argv[1], timeout=60)  # the file, then the pause the server waits for
    print("you:   ", turn.heard)
    print("avatar:", turn.reply)
    for moment in (
        "speech_stopped",
        "transcript",
        "first_text",
        "first_voice",
        "mouth_moving",
        "voice_ended",
    ):
        seconds = getattr(turn, moment)
        print(f"{moment:>14}: {'-' if seconds is None else f'{seconds:.2f} s'}")

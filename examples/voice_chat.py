"""A spoken conversation: your microphone to the avatar, its voice to your loudspeaker.

    python examples/voice_chat.py [seconds]

Runs against the bundled local server, which hears you with pocketsphinx and answers with
eSpeak NG (`pip install 'navtalk-sync[voice]'`). Uses the default input and output devices.

With the echo canceller installed (`pip install 'navtalk-sync[aec]'`) it is a full-duplex call:
the avatar's voice is taken out of what your microphone hears, so you can talk over the avatar
to interrupt it, or press Enter to stop it. Without the canceller, half-duplex mutes your
microphone while the avatar speaks, so its own voice cannot interrupt it (use a headset to
talk over it).
"""

import select
import sys
import time

import navtalk_sync as nt
from navtalk_sync.server import LocalServer

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
missing = nt.echo_canceller_missing()

with (
    LocalServer() as server,
    nt.NavTalkClient(
        server.license, avatar_name="navtalk.Leo", url=server.url, speaker=True,
        half_duplex=missing is not None,
    ) as client,
):  # fmt: skip
    heard = "realtime.conversation.item.input_audio_transcription.completed"
    client.on(heard, lambda e: print("you:   ", e.text, flush=True))
    client.on("realtime.response.audio_transcript.done", lambda e: print("avatar:", e.text))
    client.on("client.interrupted", lambda e: print(f"(avatar interrupted by {e.by})"))
    client.connect(timeout=15)
    client.start_microphone()
    mode = (
        "full duplex: talk over the avatar, or press Enter to stop it"
        if missing is None
        else (f"half duplex ({missing})")
    )
    print(f"Speak now ({seconds:g} s; Ctrl-C ends it sooner). {mode}.", flush=True)
    ends = time.monotonic() + seconds
    keyboard = sys.stdin if sys.stdin is not None and sys.stdin.isatty() else None
    try:
        while (left := ends - time.monotonic()) > 0:
            if keyboard is None:
                time.sleep(left)
            elif select.select([keyboard], [], [], left)[0]:
                keyboard.readline()
                client.interrupt()
    except KeyboardInterrupt:
        pass

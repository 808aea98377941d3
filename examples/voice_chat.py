"""A spoken conversation: your microphone to the avatar, its voice to your speaker.

    python examples/voice_chat.py [seconds]

Runs against the bundled local server, which hears you with pocketsphinx and answers with
eSpeak NG (`pip install navtalk_sync[voice]`). Uses the default input and output devices;
half-duplex keeps the avatar's own voice, heard by your microphone, from interrupting it.
"""

import sys
import time

import navtalk_sync as nt
from navtalk_sync.server import LocalServer

seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0

with (
    LocalServer() as server,
    nt.NavTalkClient(
        server.license, avatar_name="navtalk.Leo", url=server.url, speaker=True, half_duplex=True
    ) as client,
):
    heard = "realtime.conversation.item.input_audio_transcription.completed"
    client.on(heard, lambda e: print("you:   ", e.text, flush=True))
    client.on("realtime.response.audio_transcript.done", lambda e: print("avatar:", e.text))
    client.connect(timeout=15)
    client.start_microphone()
    print(f"Speak now ({seconds:g} s; Ctrl-C ends it sooner).", flush=True)
    try:
        time.sleep(seconds)
    except KeyboardInterrupt:
        pass

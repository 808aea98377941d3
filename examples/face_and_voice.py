"""See and hear the avatar: a PNG of its face mid-sentence, and a recording with sound.

    python examples/face_and_voice.py [output folder]

Writes avatar.png and avatar.mp4 (picture and voice) against the bundled local server.
"""

import sys
import time
from pathlib import Path

import navtalk_sync as nt
from navtalk_sync.server import LocalServer

folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
snapshot = []
loud_chunks = []


def listen(chunk: nt.AvatarAudio) -> None:
    """The avatar's voice, 20 ms at a time: loud chunks mean it is mid-sentence."""
    if abs(chunk.pcm).mean() > 1000:
        loud_chunks.append(time.monotonic())
        if len(loud_chunks) == 8 and not snapshot:  # well into its first word
            snapshot.append(client.latest_frame())


with (
    LocalServer() as server,
    nt.NavTalkClient(
        server.license, avatar_name="navtalk.Leo", url=server.url, record=folder / "avatar.mp4"
    ) as client,
):
    client.on_avatar_audio(listen)
    client.connect(timeout=15)
    client.wait_for_video(timeout=15)
    print("avatar:", client.ask("What can you do?", timeout=15))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not snapshot or time.monotonic() - loud_chunks[-1] < 1):
        time.sleep(0.1)  # until the avatar has finished speaking (its voice outlasts the text)
    snapshot[0].save(folder / "avatar.png")
    recording = client.stop_recording(timeout=10)
    print(f"saved {folder / 'avatar.png'} ({snapshot[0].width}x{snapshot[0].height})")
    print(f"saved {recording.path} ({recording.duration:.1f} s, picture and voice)")

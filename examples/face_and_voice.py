"""See and hear the avatar: a PNG of its face mid-sentence, and a recording with sound.

    python examples/face_and_voice.py [output folder]

Writes avatar.png and avatar.mp4 (picture and voice) against the bundled local server.
"""

import sys
import time
from pathlib import Path

import numpy as np

import navtalk_sync as nt
from navtalk_sync.server import LocalServer

folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
last_loud = [0.0]  # time.monotonic() of the voice's last loud 20 ms
speaking_frames: list[nt.VideoFrame] = []


def listen(chunk: nt.AvatarAudio) -> None:
    """The avatar's voice, 20 ms at a time: loud chunks mean it is mid-sentence."""
    if abs(chunk.pcm).mean() > 1000:
        last_loud[0] = time.monotonic()


def watch(frame: nt.VideoFrame) -> None:
    """Keep the pictures that came while the voice was loud: the avatar speaking."""
    if time.monotonic() - last_loud[0] < 0.2 and len(speaking_frames) < 500:
        speaking_frames.append(frame)


def change(frame: nt.VideoFrame, rest: nt.VideoFrame) -> float:
    """How far a picture is from the face at rest (frames are numpy arrays too)."""
    return float(np.abs(np.asarray(frame, np.int16) - np.asarray(rest, np.int16)).mean())


with (
    LocalServer() as server,
    nt.NavTalkClient(
        server.license, avatar_name="navtalk.Leo", url=server.url, record=folder / "avatar.mp4"
    ) as client,
):
    client.on_avatar_audio(listen)
    client.on_video_frame(watch)
    client.connect(timeout=15)
    at_rest = client.wait_for_video(timeout=15)  # before it speaks
    with client.expect("client.turn") as turn:  # reported once the reply's voice has ended
        print("avatar:", client.ask("What can you do?", timeout=15))
    turn.result(timeout=30)  # its voice outlasts its text
    # mid-sentence: of the pictures taken while it spoke, the one furthest from its face at rest
    snapshot = max(speaking_frames or [at_rest], key=lambda frame: change(frame, at_rest))
    snapshot.save(folder / "avatar.png")
    recording = client.stop_recording(timeout=10)
    print(f"saved {folder / 'avatar.png'} ({snapshot.width}x{snapshot.height})")
    print(f"saved {recording.path} ({recording.duration:.1f} s, picture and voice)")

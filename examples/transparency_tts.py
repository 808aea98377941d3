"""Drive the avatar's lips with your own audio: transparency mode (protocol.md#transparency).

    python examples/transparency_tts.py [output folder]

Runs against the local server (no licence needed). With ``model="transparency"`` the service
does not answer: the avatar says the audio you push, lip-synced. Here the audio is a WAV file
made by your own text-to-speech (eSpeak NG, as the local server uses, or a tone voice when it
is not installed); in an app it could come from any TTS engine or a recorded message.

Writes speech.wav (what was pushed) and mouth_open.png (the avatar mid-sentence).
"""

import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np

import navtalk_sync as nt
from navtalk_sync.server import EspeakVoice, LocalServer, ToneVoice

TEXT = "Welcome to the museum. The tour starts in five minutes."
folder = Path(sys.argv[1] if len(sys.argv) > 1 else ".")


def synthesize(text: str, path: Path) -> str:
    """Your TTS step: ``text`` as a mono 16-bit WAV file. Returns the engine's name."""
    try:
        samples, rate = EspeakVoice()(text)
        engine = "eSpeak NG"
    except ImportError:  # espeakng-loader not installed: a speech-like tone instead
        samples, rate = ToneVoice()(text)
        engine = "a tone voice"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.astype("<i2").tobytes())
    return engine


class Lips:
    """Watches the avatar's voice (20 ms chunks) and keeps the frame shown at its loudest in
    the first second: the mouth is widest on a loud vowel, and a frame taken a little late
    (a busy machine decodes video behind the voice) is still mid-word."""

    def __init__(self, client: nt.NavTalkClient) -> None:
        self._client = client
        self.loud_chunks = 0
        self.loudest = 0.0
        self.first_loud = self.last_loud = 0.0
        self.snapshot: nt.VideoFrame | None = None
        self.heard = threading.Event()

    def listen(self, chunk: nt.AvatarAudio) -> None:
        loudness = float(np.abs(chunk.pcm).mean())
        if loudness < 1000:
            return  # silence, or a quiet moment between words
        self.loud_chunks += 1
        self.last_loud = time.monotonic()
        if self.loud_chunks == 1:
            self.first_loud = self.last_loud
        if self.loud_chunks <= 50 and loudness > self.loudest:
            self.loudest = loudness
            self.snapshot = self._client.latest_frame()
        if self.loud_chunks == 8:  # 160 ms of voice: it is speaking
            self.heard.set()

    def wait_until_quiet(self, quiet: float = 1.0, timeout: float = 30.0) -> None:
        """Until no voice has been heard for ``quiet`` seconds (its end, not a pause)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and time.monotonic() - self.last_loud < quiet:
            time.sleep(0.1)


folder.mkdir(parents=True, exist_ok=True)
wav = folder / "speech.wav"
engine = synthesize(TEXT, wav)

with (
    LocalServer() as server,
    nt.NavTalkClient(
        server.license, avatar_name="navtalk.Leo", url=server.url, model="transparency"
    ) as client,
):
    lips = Lips(client)
    client.on_avatar_audio(lips.listen)
    client.connect(timeout=15)
    # The avatar can only speak once its picture and voice flow: audio committed before the
    # media is up has no face to move.
    client.wait_for_video(timeout=15)
    seconds = client.send_file(wav, realtime=False)  # queued as fast as the queue takes it
    print(f"pushed {seconds:.1f} s of speech by {engine}: {TEXT!r}")
    client.commit_audio()  # a short silence, then commit: the avatar says it now
    print("committed: the avatar speaks it")
    if not lips.heard.wait(20):
        raise SystemExit("the avatar did not speak the pushed audio")
    lips.wait_until_quiet()
    lips.snapshot.save(folder / "mouth_open.png")
    print(f"heard the avatar say it for {lips.last_loud - lips.first_loud:.1f} s")
    print(f"saved {folder / 'mouth_open.png'} ({lips.snapshot.width}x{lips.snapshot.height})")

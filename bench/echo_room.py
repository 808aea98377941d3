"""Loudspeaker conversations on the PulseAudio room rig, with the echo canceller on and off,
side by side: issue 19's figures from real devices.

Reproduce:  bash .ci/system-deps && .venv/bin/pip install -e '.[test]'
            .venv/bin/python bench/echo_room.py [--replies 5]

The rig (tests/rigs/pulse.py, tests/rigs/alsa.py): a private PulseAudio daemon whose
loudspeaker sink is heard by its microphone 40 ms later at about -6 dB (``room()``), over a
-60 dBFS noise floor. A client with ``speaker=`` on the loudspeaker and the microphone started
asks ``--replies`` long questions by text, one after another's voice has ended; then, mid-reply,
the user's sentence (eSpeak NG) is played into the microphone. The local server runs in this
process (its voice detection and recognizer decide what was heard).

Figures, per mode:
- speech the server detected during the avatar's replies (``speech_started``): 0 is right;
- ERLE: the canceller's echo return loss enhancement at the end (``stats()``), in dB;
- the first reply's echo: ERLE at its end, the canceller's convergence on the room;
- talking over: whether the server heard the user mid-reply, and the share of the sentence's
  words in its transcript (not measured with the canceller off: the avatar is busy answering
  its own voice by then, which is the point of the comparison).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.rigs import alsa, pulse

PULSE = Path(tempfile.mkdtemp(prefix="navtalk-bench-pulse-"))
ALSA = Path(tempfile.mkdtemp(prefix="navtalk-bench-alsa-"))
alsa.install(ALSA, pulse_socket=pulse.socket_path(PULSE))  # before PortAudio loads

import navtalk_sync as nt  # noqa: E402
from navtalk_sync.server import LocalServer  # noqa: E402
from tests.helpers import SENTENCE, spoken  # noqa: E402

QUESTION = (
    "Please tell me everything about the history of the old lighthouse by the harbour, "
    "who built it, when it was first lit and why the keepers left it"
)


class Voice:
    """When the avatar's voice was last loud."""

    def __init__(self, client: nt.NavTalkClient) -> None:
        self.loud_at = time.monotonic()
        client.on_avatar_audio(self._heard)

    def _heard(self, chunk: nt.AvatarAudio) -> None:
        if np.sqrt(np.mean(chunk.pcm.astype(np.float64) ** 2)) > 300:
            self.loud_at = time.monotonic()

    def wait_quiet(self, seconds: float = 2.0, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() - self.loud_at < seconds and time.monotonic() < deadline:
            time.sleep(0.1)


def run(server: LocalServer, rig: pulse.PulseRig, cancelling: bool, replies: int) -> dict:
    started: list[float] = []
    figures: dict = {}
    client = nt.NavTalkClient(
        server.license, avatar_name="navtalk.Leo", url=server.url,
        speaker=alsa.PACED_OUTPUT, echo_cancellation=cancelling,
    )  # fmt: skip
    with client:
        client.on("realtime.input_audio_buffer.speech_started", lambda e: started.append(1))
        client.connect(timeout=20)
        client.wait_for_video(timeout=20)
        client.start_microphone(device=alsa.PACED_INPUT)
        while client.stats()["microphone"]["captured_ms"] == 0:
            time.sleep(0.1)
        voice = Voice(client)
        for index in range(replies):
            with client.events("realtime.response.audio.done") as done:
                client.send_text(QUESTION)
                done.get(timeout=60)
            voice.wait_quiet()
            if index == 0:
                figures["first_erle"] = client.stats()["microphone"]["echo_cancellation"].get(
                    "erle_db"
                )
        figures["speech_started"] = len(started)
        figures["erle"] = client.stats()["microphone"]["echo_cancellation"].get("erle_db")
        heard = client.events("realtime.conversation.item.input_audio_transcription.completed")
        before = len(started)
        client.send_text(QUESTION)
        time.sleep(3.0)  # mid-reply
        rig.play(spoken(SENTENCE)).wait(30)
        try:
            text = heard.get(timeout=20).text or ""
        except nt.NavTalkTimeout:
            text = ""
        words = SENTENCE.split()
        figures["barged_in"] = len(started) > before
        figures["words"] = sum(word in text.split() for word in words) / len(words)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=5)
    args = parser.parse_args()
    if nt.echo_canceller_missing() or pulse.MISSING:
        print(f"cannot run: {nt.echo_canceller_missing() or pulse.MISSING}")
        return 1
    rig = pulse.start(PULSE)
    noise = rig.play(np.random.default_rng(7).normal(0, 30, 48000 * 600).astype(np.int16))
    try:
        with rig.room(delay_ms=40, gain_percent=80), LocalServer() as server:
            results = {
                "on": run(server, rig, True, args.replies),
                "off": run(server, rig, False, 1),
            }
    finally:
        noise.kill()
        rig.stop()
        shutil.rmtree(PULSE, ignore_errors=True)
        shutil.rmtree(ALSA, ignore_errors=True)
    print(f"loudspeaker conversations on the room rig; reproduce: {' '.join(sys.argv)}\n")
    print("| echo cancellation | replies | speech_started during replies | ERLE after the first "
          "reply dB | ERLE at the end dB | talked over: heard | words of it kept |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, figures in results.items():
        replies = args.replies if name == "on" else 1
        talked_over = f"{figures['barged_in']} | {figures['words']:.0%}"
        if name == "off":  # the avatar answers its own voice: there is no reply to talk over
            talked_over = "n/a | n/a"
        print(
            f"| {name} | {replies} | {figures['speech_started']} | {figures['first_erle']} | "
            f"{figures['erle']} | {talked_over} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

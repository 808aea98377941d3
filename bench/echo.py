"""Echo cancellers from PyPI on the same recording, side by side: the choice for issue 19.

Reproduce:  .venv/bin/pip install livekit aec-audio-processing
            .venv/bin/python bench/echo.py [--seconds 12]

The recording is made here, so every canceller gets the same one. The far end is eSpeak NG
reading sentences, the avatar's voice, at 48 kHz mono. The microphone hears that voice through
a small room: a direct path after 10 ms, two reflections (23 ms at -8 dB, 41 ms at -14 dB) and
a 60 ms decaying tail, plus a faint noise floor (-60 dBFS). From the middle of the recording on,
the user speaks too: another eSpeak voice, double talk. Each canceller gets the far end as its
reference (``process_reverse_stream``) and the microphone (``process_stream``) in 10 ms frames,
with a stream delay of 10 ms, and only echo cancellation on (no noise suppression or gain).

Figures:
- echo return loss enhancement: the power of the microphone over the power of the output,
  while only the avatar speaks, after a 2 s settling time, in dB;
- the user kept: the output's power over the user's voice alone, while the user speaks (over
  the avatar), in dB: near 0 is good, a large negative figure means the user was cancelled too;
- CPU: seconds of this process per second of audio, in percent of one core.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RATE = 48000
FRAME = RATE // 100  # 10 ms
DELAY_MS = 10
SETTLE = 2.0
AVATAR = "The weather today is sunny with a light breeze from the west. " * 3
USER = "Stop please, I have a question about my order."


def speech(text: str, seconds: float) -> np.ndarray:
    from navtalk_sync.server.espeak import EspeakVoice
    from navtalk_sync.server.samples import resample

    samples, rate = EspeakVoice()(text)
    voice = resample(samples, rate, RATE).astype(np.float32) / 32768
    out = np.zeros(int(seconds * RATE), np.float32)
    out[: min(voice.size, out.size)] = voice[: out.size]
    return out


def room(far: np.ndarray) -> np.ndarray:
    taps = np.zeros(int(0.12 * RATE), np.float32)
    for delay_ms, gain_db in ((10, -3), (23, -8), (41, -14)):
        taps[int(delay_ms * RATE / 1000)] = 10 ** (gain_db / 20)
    tail = np.arange(int(0.06 * RATE))
    start = int(0.045 * RATE)
    noise = np.random.default_rng(3).normal(0, 1, tail.size).astype(np.float32)
    taps[start : start + tail.size] += 0.02 * noise * np.exp(-tail / (0.015 * RATE))
    return np.convolve(far, taps)[: far.size].astype(np.float32)


def livekit_canceller() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from livekit import rtc

    apm = rtc.AudioProcessingModule(echo_cancellation=True)
    apm.set_stream_delay_ms(DELAY_MS)

    def process(far: np.ndarray, near: np.ndarray) -> np.ndarray:
        reference = rtc.AudioFrame(far.tobytes(), RATE, 1, FRAME)
        apm.process_reverse_stream(reference)
        frame = rtc.AudioFrame(near.tobytes(), RATE, 1, FRAME)
        apm.process_stream(frame)
        return np.frombuffer(bytes(frame.data), np.int16)

    return process


def aec_audio_processing_canceller() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from aec_audio_processing import AudioProcessor

    apm = AudioProcessor(enable_aec=True, enable_ns=False, enable_agc=False, enable_vad=False)
    apm.set_stream_format(RATE, 1)
    apm.set_reverse_stream_format(RATE, 1)
    apm.set_stream_delay(DELAY_MS)

    def process(far: np.ndarray, near: np.ndarray) -> np.ndarray:
        apm.process_reverse_stream(far.tobytes())
        return np.frombuffer(apm.process_stream(near.tobytes()), np.int16)

    return process


def run(make: Callable[[], Callable[[np.ndarray, np.ndarray], np.ndarray]],
        far: np.ndarray, mic: np.ndarray) -> tuple[np.ndarray, float]:  # fmt: skip
    process = make()
    far16 = (np.clip(far, -1, 1) * 32767).astype(np.int16)
    mic16 = (np.clip(mic, -1, 1) * 32767).astype(np.int16)
    out = np.zeros_like(mic16)
    started = time.process_time()
    for at in range(0, mic16.size - FRAME + 1, FRAME):
        out[at : at + FRAME] = process(far16[at : at + FRAME], mic16[at : at + FRAME])
    return out, time.process_time() - started


def recording(seconds: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The far end (the avatar), the user's voice (from half way) and what the microphone
    hears: float32 at ``RATE``."""
    far = 0.5 * speech(AVATAR, seconds)
    half = int(seconds / 2 * RATE)
    user = np.zeros_like(far)
    spoken = speech(USER, seconds / 2)
    user[half : half + spoken.size] = 0.5 * spoken[: far.size - half]
    noise = np.random.default_rng(5).normal(0, 0.001, far.size).astype(np.float32)
    return far, user, room(far) + user + noise


def power(samples: np.ndarray) -> float:
    values = samples.astype(np.float64)
    return float(np.mean(values * values)) + 1e-9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    far, user, mic = recording(args.seconds)
    half = int(args.seconds / 2 * RATE)
    settle, talk = int(SETTLE * RATE), user != 0
    echo_only = slice(settle, half)
    mic16 = (np.clip(mic, -1, 1) * 32767).astype(np.int16)
    user16 = (np.clip(user, -1, 1) * 32767).astype(np.int16)
    print(
        f"echo cancellers, {args.seconds:g} s at {RATE} Hz, "
        f"double talk from {args.seconds / 2:g} s\n"
    )
    print("| canceller | echo return loss enhancement dB | user kept dB | CPU % of a core |")
    print("| --- | --- | --- | --- |")
    mic_kept = 10 * np.log10(power(mic16[talk]) / power(user16[talk]))
    print(f"| none (the microphone as is) | 0.0 | {mic_kept:.1f} | 0.0 |")
    for name, make in (("livekit AudioProcessingModule", livekit_canceller),
                       ("aec-audio-processing", aec_audio_processing_canceller)):  # fmt: skip
        try:
            out, cpu = run(make, far, mic)
        except ImportError as exc:
            print(f"| {name} | not installed ({exc.name}) | | |")
            continue
        erle = 10 * np.log10(power(mic16[echo_only]) / power(out[echo_only]))
        kept = 10 * np.log10(power(out[talk]) / power(user16[talk]))
        print(f"| {name} | {erle:.1f} | {kept:.1f} | {100 * cpu / args.seconds:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

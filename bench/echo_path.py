"""The library's echo canceller as it is wired, on vs off, side by side: issue 19's figures.

Reproduce:  .venv/bin/pip install -e '.[aec]'
            .venv/bin/python bench/echo_path.py [--seconds 12]

The recording of ``bench/echo.py`` (eSpeak's avatar through a synthetic room, -60 dBFS noise,
the user talking over it from the middle on) goes through ``navtalk_sync.audio.echo`` exactly
as a conversation feeds it: the reference as the speaker thread hands it over (10 ms blocks of
48 kHz stereo), the microphone as the ``navtalk-mic`` thread does (20 ms chunks at 24 kHz).
"off" is the same path with the canceller stopped (it passes audio through).

Figures:
- CPU: seconds of this process per second of audio, in percent of one core, and its ratio to
  "off";
- added microphone latency: what a chunk waits in the canceller (its processing time, median
  and worst; the 10 ms framing adds nothing to 20 ms chunks);
- convergence: from the avatar's first word until the echo stays at least 20 dB down (ERLE over
  250 ms windows of the avatar's voice alone, its pauses skipped);
- ERLE after convergence, over the avatar's voice alone, in dB.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from echo import RATE, power, recording  # bench/echo.py: the same recording

from navtalk_sync.audio.echo import EchoCanceller, echo_canceller_missing
from navtalk_sync.audio.pcm import UPLINK_RATE
from navtalk_sync.server.samples import resample

REFERENCE_BLOCK = RATE // 100  # the speaker thread's 10 ms
CHUNK = UPLINK_RATE // 50  # the microphone's 20 ms
WINDOW = UPLINK_RATE // 4
LOUD_POWER = 316.0**2  # 20 dB above the recording's noise floor


def run(far: np.ndarray, mic24: np.ndarray, cancelling: bool) -> dict[str, object]:
    echo = EchoCanceller()
    echo.start()
    if not cancelling:
        echo.stop()
    stereo = np.repeat(far.reshape(-1, 1), 2, axis=1)
    out, waits = [], []
    started = time.process_time()
    for index in range(min(len(stereo) // (2 * REFERENCE_BLOCK), len(mic24) // CHUNK)):
        for half in (0, 1):
            at = (2 * index + half) * REFERENCE_BLOCK
            echo.played(stereo[at : at + REFERENCE_BLOCK], RATE)
        chunk = mic24[index * CHUNK : (index + 1) * CHUNK]
        began = time.perf_counter()
        out.append(echo.capture(chunk))
        waits.append(time.perf_counter() - began)
    cpu = time.process_time() - started
    return {"out": np.concatenate(out), "cpu": cpu, "waits": waits}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0)
    args = parser.parse_args()
    missing = echo_canceller_missing()
    if missing:
        print(f"cannot run: {missing}")
        return 1
    far, _, mic = recording(args.seconds)
    far16 = (np.clip(far, -1, 1) * 32767).astype(np.int16)
    mic24 = resample((np.clip(mic, -1, 1) * 32767).astype(np.int16), RATE, UPLINK_RATE)
    mic24 = mic24.astype(np.int16)
    first_word = int(np.flatnonzero(np.abs(far16) > 300)[0] / RATE * UPLINK_RATE)
    echo_end = int(args.seconds / 2 * UPLINK_RATE)
    results = {name: run(far16, mic24, on) for name, on in (("off", False), ("on", True))}
    out = results["on"]["out"]
    assert isinstance(out, np.ndarray)
    converged = None
    for start in range(first_word, echo_end - WINDOW, WINDOW):
        heard = power(mic24[start : start + WINDOW])
        if heard < LOUD_POWER:  # a pause: the noise floor, cancelled or not, says nothing
            continue
        erle = 10 * np.log10(heard / power(out[start : start + WINDOW]))
        if erle >= 20 and converged is None:
            converged = start
        elif erle < 20:
            converged = None
    settled = slice(converged or first_word, echo_end)
    erle = 10 * np.log10(power(mic24[settled]) / power(out[settled]))
    print(f"the library's echo path, {args.seconds:g} s; reproduce: {' '.join(sys.argv)}\n")
    print("| echo cancellation | CPU % of a core | ratio to off | chunk wait ms (median / max) |")
    print("| --- | --- | --- | --- |")
    base = results["off"]["cpu"]
    for name, result in results.items():
        cpu, waits = result["cpu"], result["waits"]
        assert isinstance(cpu, float) and isinstance(waits, list)
        share = 100 * cpu / args.seconds
        print(
            f"| {name} | {share:.2f} | {cpu / max(base, 1e-9):.1f}x | "  # type: ignore[operator]
            f"{1000 * statistics.median(waits):.3f} / {1000 * max(waits):.3f} |"
        )
    when = "never" if converged is None else f"{(converged - first_word) / UPLINK_RATE:.2f} s"
    print(f"\nconverged (ERLE >= 20 dB from then on): {when} after the avatar's first word")
    print(f"ERLE after convergence, avatar alone: {erle:.1f} dB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

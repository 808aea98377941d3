"""Microphone: capture-to-sink latency and resampling cost, each beside a baseline.

Reproduce:  .venv/bin/python bench/mic_latency.py [--rounds 5]
(needs the Debian packages pulseaudio, pulseaudio-utils and libasound2-plugins)

Latency: a private PulseAudio daemon (tests/pulse.py) plays a tone burst after silence into
the paced input device; the time from starting ``paplay`` to the first loud sample reaching
the sink is measured for ``Microphone`` (thread, 48 -> 24 kHz resampling, sink call) and for
the baseline, a bare PyAudio blocking-read loop at 24 kHz on the main thread. Both include
paplay's and PulseAudio's own latency; the difference is what the microphone adds.

Capture-to-wire: the same burst through ``NavTalkClient.start_microphone()`` to the local
server, until the first loud sample is in what the server received: the microphone, the
64 ms chunking, the uplink queue and the socket.

Resampling: the cost per 20 ms chunk of the microphone's converter (one stateful PyAV
resampler) beside the baseline a hand-written converter would use, ``np.interp``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import alsa, pulse  # the ALSA config must precede any PyAudio()

WORK = Path(tempfile.mkdtemp(prefix="navtalk-bench-mic-"))
alsa.install(WORK / "alsa", pulse_socket=pulse.socket_path(WORK / "pulse"))

import pyaudio  # noqa: E402

import navtalk_sync as nt  # noqa: E402
from navtalk_sync.audio.devices import (  # noqa: E402
    close_portaudio,
    find_input_device,
    open_portaudio,
)
from navtalk_sync.audio.microphone import SEND_RATE, Microphone, _ToSendRate  # noqa: E402
from navtalk_sync.server import LocalServer  # noqa: E402

LOUD = 2000


def burst() -> np.ndarray:
    """0.3 s of silence, then 0.3 s of a 440 Hz tone (48 kHz mono)."""
    t = np.arange(14400) / 48000
    tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
    return np.concatenate([np.zeros(14400, np.int16), tone])


def microphone_latency(rig: pulse.PulseRig) -> float:
    heard = threading.Event()
    alive = threading.Event()
    heard_at = [0.0]

    def sink(pcm: np.ndarray) -> None:
        alive.set()
        if not heard.is_set() and np.abs(pcm).max() > LOUD:
            heard_at[0] = time.perf_counter()
            heard.set()

    with Microphone(sink, alsa.PACED_INPUT):
        # the ALSA pulse plugin's first read takes about 2 s (the stream starting up); the
        # baseline's first read waits it out too
        alive.wait(10)
        time.sleep(0.3)
        started = time.perf_counter()
        player = rig.play(burst())
        heard.wait(10)
        player.wait(10)
    return heard_at[0] - started - 0.3


def wire_latency(rig: pulse.PulseRig, server: LocalServer) -> float:
    """From paplay's start to the first loud sample in what the local server received: the
    microphone, the 64 ms chunking, the uplink queue and the socket."""
    with nt.NavTalkClient(
        server.license, url=server.url, avatar_name="navtalk.Leo", media=False
    ) as client:
        client.connect(timeout=10)
        client.start_microphone(device=alsa.PACED_INPUT)
        deadline = time.perf_counter() + 10
        while client.stats()["microphone"]["captured_ms"] == 0 and time.perf_counter() < deadline:
            time.sleep(0.01)
        time.sleep(0.3)
        started = time.perf_counter()
        player = rig.play(burst())
        heard_at = started + 10
        while time.perf_counter() < started + 10:
            received = np.frombuffer(server.received_audio(), "<i2")
            if received.size and np.abs(received).max() > LOUD:
                heard_at = time.perf_counter()
                break
            time.sleep(0.002)
        player.wait(10)
    return heard_at - started - 0.3


def baseline_latency(rig: pulse.PulseRig) -> float:
    pa = open_portaudio()
    try:
        index = find_input_device(pa, alsa.PACED_INPUT)
        stream = pa.open(
            format=pyaudio.paInt16,
            channels=1,
            rate=SEND_RATE,
            input=True,
            input_device_index=index,
            frames_per_buffer=480,
        )
        deadline = time.perf_counter() + 0.3
        while time.perf_counter() < deadline:
            stream.read(480, exception_on_overflow=False)
        started = time.perf_counter()
        player = rig.play(burst())
        heard_at = started + 10
        while time.perf_counter() < started + 10:
            data = np.frombuffer(stream.read(480, exception_on_overflow=False), "<i2")
            if np.abs(data).max() > LOUD:
                heard_at = time.perf_counter()
                break
        player.wait(10)
        stream.close()
    finally:
        close_portaudio(pa)
    return heard_at - started - 0.3


def resample_cost(chunks: int = 2000) -> tuple[float, float]:
    """Microseconds per 20 ms chunk (960 samples at 48 kHz): PyAV, then np.interp."""
    rng = np.random.default_rng(1)
    chunk = (rng.standard_normal((960, 1)) * 3000).astype(np.int16)
    converter = _ToSendRate(48000)
    started = time.perf_counter()
    for _ in range(chunks):
        converter.convert(chunk)
    pyav = (time.perf_counter() - started) / chunks * 1e6
    source = np.arange(960)
    target = np.arange(480) * 2.0
    started = time.perf_counter()
    for _ in range(chunks):
        np.interp(target, source, chunk[:, 0]).astype(np.int16)
    interp = (time.perf_counter() - started) / chunks * 1e6
    return pyav, interp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if pulse.MISSING:
        sys.exit(pulse.MISSING)
    rig = pulse.start(WORK / "pulse")
    try:
        ours = [microphone_latency(rig) for _ in range(args.rounds)]
        base = [baseline_latency(rig) for _ in range(args.rounds)]
        with LocalServer() as server:
            wire = [wire_latency(rig, server) for _ in range(args.rounds)]
    finally:
        rig.stop()
        shutil.rmtree(WORK, ignore_errors=True)
    pyav, interp = resample_cost()
    print(f"{'measure':<40}{'Microphone':>14}{'baseline':>14}")
    print(
        f"{'capture-to-sink latency, median (ms)':<40}{_ms(ours, statistics.median)}"
        f"{_ms(base, statistics.median)}"
    )
    print(f"{'capture-to-sink latency, worst (ms)':<40}{_ms(ours, max)}{_ms(base, max)}")
    print(f"{'capture-to-wire (client), median (ms)':<40}{_ms(wire, statistics.median)}{'-':>14}")
    print(f"{'capture-to-wire (client), worst (ms)':<40}{_ms(wire, max)}{'-':>14}")
    print(f"{'resample 20 ms chunk 48->24 kHz (us)':<40}{pyav:>14.1f}{interp:>14.1f}")
    print("baseline: bare PyAudio read loop at 24 kHz; np.interp for resampling")


def _ms(values: list[float], summary) -> str:
    return f"{summary(values) * 1000:>14.1f}"


if __name__ == "__main__":
    main()

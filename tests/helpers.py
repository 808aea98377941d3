"""Small helpers shared by the tests that talk to the local server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import navtalk_sync as nt
from navtalk_sync.rtc.ice import RELAY_ONLY_MISSING
from navtalk_sync.server import EspeakVoice, LocalServer
from navtalk_sync.server.face import MOUTH_BOX
from navtalk_sync.server.samples import resample

#: For tests of ice_transport_policy="relay", which aiortc has from 1.16 (Python 3.11) on.
relay_only = pytest.mark.skipif(bool(RELAY_ONLY_MISSING), reason=RELAY_ONLY_MISSING)


def client_for(server: LocalServer, **kw) -> nt.NavTalkClient:
    """A client for the local server (avatar navtalk.Leo unless told otherwise)."""
    kw.setdefault("avatar_name", "navtalk.Leo")
    return nt.NavTalkClient(server.license, url=server.url, **kw)


def client_sockets_to(port: int) -> list[str]:
    """This process's TCP sockets still open towards 127.0.0.1:``port`` (its clients' ends; a
    server in the process has ``port`` as its local port, not its remote one)."""
    ours = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            ours.add(target[8:-1])
    found = []
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        with open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                remote_port = int(fields[2].rsplit(":", 1)[1], 16)
                if remote_port == port and fields[9] in ours:
                    found.append(f"{fields[1]} -> {fields[2]} state {fields[3]}")
    return found


def wait_until(
    condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met in time"
        time.sleep(0.01)


def rms(samples: np.ndarray) -> float:
    """Root mean square of int16 (or any numeric) samples; 0 for none."""
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0


def mouth_darkness(image: np.ndarray) -> float:
    """The share of dark pixels in the mouth box: near 0 when closed, high when open."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = MOUTH_BOX
    box = image[int(y0 * height) : int(y1 * height), int(x0 * width) : int(x1 * width)]
    return float((box.astype(np.int32).sum(axis=2) < 3 * 80).mean())


SENTENCE = "what is the weather like today"


def spoken(text: str, rate: int = 48000) -> np.ndarray:
    """``text`` said by eSpeak NG, as int16 mono at ``rate``, with silence around it."""
    samples, native = EspeakVoice()(text)
    voice = resample(samples, native, rate)
    pad = np.zeros(rate // 2, np.int16)
    return np.concatenate([pad, voice, pad, pad, pad]).astype(np.int16)


def question_wav(folder: Path | str, end_pad: float = 0.5) -> str:
    """``SENTENCE`` spoken into ``folder/question.wav`` (48 kHz mono), ending ``end_pad`` s
    after the last word: a recording that ends soon after the speech, as people's do."""
    path = str(Path(folder) / "question.wav")
    samples = spoken(SENTENCE)
    keep = len(samples) - round((1.5 - end_pad) * 48000)  # spoken() ends with 1.5 s of silence
    with wave.open(path, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes(samples[:keep].tobytes())
    return path


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str, timeout: float = 50) -> subprocess.CompletedProcess:
    """Run ``examples/<name>`` without a licence in the environment (it must need none);
    fails the test unless it exits with 0."""
    env = {k: v for k, v in os.environ.items() if k != "NAVTALK_LICENSE"}
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return result

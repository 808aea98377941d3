"""Row 3, capture-to-wire: a PyAudio buffer read from the device -> the frame carrying its last
sample written to the socket, beside a bare PyAudio + websocket-client loop.

The device is real PyAudio on a paced virtual input (the PulseAudio rig of ``tests/rigs/pulse.py``,
through the ALSA ``pulse`` plugin of ``tests/rigs/alsa.py``), fed a quiet tone in real time by
``paplay`` (below the local server's voice-activity threshold, so no reply traffic).

* Ours: ``NavTalkClient(media=False).start_microphone()`` against a ``ServerProcess``. The
  microphone reads 20 ms buffers at 48 kHz, resamples them to 24 kHz and the uplink cuts them
  into 1536-sample (64 ms) frames sent by the writer thread.
* Baseline: what a user would write, on one thread: PyAudio blocking reads of the same device
  at 24 kHz mono, 20 ms at a time, cut into the same 1536-sample frames, each base64 + json +
  ``websocket.WebSocket.send()``.

Both are timed the same way, without changing the library: ``_DeviceInput.read``,
``_ToSendRate.convert`` and ``websocket.WebSocket.send`` are wrapped at class level in this
(the bench's) process to note when a read returned, how many 24 kHz samples it released and
when each audio frame's write returned. A buffer maps to the first frame whose cumulative
sample count covers the last 24 kHz sample its read released. The baseline's reads release
what they read (PulseAudio resampled before the read returned, its filter's look-ahead
hidden inside it); ours release what the microphone's resampler gave out for the read. (That
used to be 16 samples less than the read, once: libswresample's look-ahead, which came out
with the next read, so a frame whose end fell on a read's end, one in five, waited 20 ms
more: p99 81 ms. The microphone now primes its resampler with that look-ahead in silence.)

Lines: per buffer, read() returned -> frame written (the floor is the wait for a frame to
fill: up to 60 ms, three 20 ms reads, on both sides); and per frame, the read that completed
it returned -> frame written (the pure cost of the path; the floor is zero).
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .plan import Plan
from .report import Figures, Measure, progress

#: The frame size (Settings.audio.chunk_samples) and its duration, the physical floor.
CHUNK_SAMPLES = 1536
SEND_RATE = 24000
CHUNK_MS = CHUNK_SAMPLES * 1000 / SEND_RATE
#: The target's slack over the chunk duration (issue 9).
SLACK_MS = 10.0
#: Both sides read 20 ms buffers (the microphone's default chunk_ms).
READ_MS = 20
#: What the tone's amplitude is: well under the server VAD's floor (about 330 RMS).
TONE_LEVEL = 150
#: The start of every connection's prefix in the audio frames (how we know one on the wire).
_APPEND_PREFIX = '{"type":"realtime.input_audio_buffer.append"'


class Timeline:
    """What the wrapped calls noted while ``recording``: buffers read and frames sent."""

    def __init__(self) -> None:
        self.recording = False
        self.reads: list[float] = []  # when each read returned
        self.released: list[int] = []  # 24 kHz samples out of the resampler, per read
        self.sends: list[tuple[float, str]] = []  # (returned at, frame text)

    def start(self) -> None:
        self.reads, self.released, self.sends = [], [], []
        self.recording = True

    def stop(self) -> None:
        self.recording = False

    def note_read(self) -> None:
        if self.recording:
            self.reads.append(time.monotonic())

    def note_release(self, samples: int) -> None:
        if self.recording:
            self.released.append(samples)

    def note_send(self, payload: object) -> None:
        if self.recording and isinstance(payload, str) and payload.startswith(_APPEND_PREFIX):
            self.sends.append((time.monotonic(), payload))

    def latencies(self, skip_seconds: float) -> tuple[list[float], list[float]]:
        """Per buffer (read -> the frame with the last sample it released written) and per
        frame (the read that completed it -> written), in ms. Buffers read in the first
        ``skip_seconds`` (the stream starting up) are left out, and so are those whose frame
        was never sent."""
        frame_ends = np.cumsum([_audio_samples(text) for _, text in self.sends])
        sent_at = [at for at, _ in self.sends]
        if not len(frame_ends) or not self.reads:
            return [], []
        first = self.reads[0] + skip_seconds
        per_buffer: list[float] = []
        completed_by: dict[int, float] = {}  # frame index -> when the read completing it returned
        last = 0  # 24 kHz samples released so far
        for read_at, released in zip(self.reads, self.released, strict=False):
            last += released
            frame = int(np.searchsorted(frame_ends, last))  # first frame ending at/after it
            if frame >= len(frame_ends):
                break
            for done in range(len(completed_by), frame + (frame_ends[frame] == last)):
                completed_by[done] = read_at
            if read_at >= first and last > 0:
                per_buffer.append((sent_at[frame] - read_at) * 1000)
        per_frame = [(sent_at[f] - at) * 1000 for f, at in completed_by.items() if at >= first]
        return per_buffer, per_frame


def _audio_samples(frame_text: str) -> int:
    return len(base64.b64decode(json.loads(frame_text)["data"]["audio"])) // 2


def _wrap_after(cls: type, name: str, note: Callable[[Any, Any], None]) -> None:
    """Replace ``cls.name`` by a wrapper that calls ``note(args, result)`` after it returns."""
    original = getattr(cls, name)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        note(args, result)
        return result

    setattr(cls, name, wrapper)


def instrument(timeline: Timeline) -> None:
    """Note every microphone read and every socket write in ``timeline`` (class level)."""
    import websocket

    from navtalk_sync.audio.microphone import _DeviceInput, _ToSendRate

    _wrap_after(_DeviceInput, "read", lambda args, frames: timeline.note_read())
    _wrap_after(_ToSendRate, "convert", lambda args, pcm: timeline.note_release(len(pcm)))
    _wrap_after(websocket.WebSocket, "send", lambda args, _: timeline.note_send(args[0]))


# -- the two sides ----------------------------------------------------------------------------


def ours(url: str, device: str, timeline: Timeline, seconds: float) -> dict[str, Any]:
    """The library: start_microphone() until ``seconds`` of audio went out; its stats."""
    import navtalk_sync as nt

    with nt.NavTalkClient("sk_bench", url=url, avatar_name="navtalk.Leo", media=False) as client:
        client.connect(timeout=15)
        timeline.start()
        client.start_microphone(device=device)
        _wait_for_audio(timeline, seconds)
        stats = client.stats()
        client.stop_microphone()
        timeline.stop()
        return stats


def baseline(url: str, device: str, timeline: Timeline, seconds: float) -> None:
    """A bare loop on one thread: PyAudio read at 24 kHz, chunk, base64 + json + send."""
    import pyaudio
    import websocket

    from navtalk_sync.audio.devices import find_input_device

    ws = websocket.WebSocket()
    ws.connect(f"{url}?license=sk_bench&name=navtalk.Leo", timeout=15)
    try:
        while json.loads(ws.recv()).get("type") != "realtime.session.updated":
            pass
        pa = pyaudio.PyAudio()
        try:
            stream = pa.open(
                format=pyaudio.paInt16,
                channels=1,
                rate=SEND_RATE,
                input=True,
                input_device_index=find_input_device(pa, device),
                frames_per_buffer=SEND_RATE * READ_MS // 1000,
            )
            timeline.start()
            pending = b""
            deadline: float | None = None
            while deadline is None or time.monotonic() < deadline:
                data = stream.read(SEND_RATE * READ_MS // 1000, exception_on_overflow=False)
                timeline.note_read()
                timeline.note_release(len(data) // 2)
                pending += data
                while len(pending) >= CHUNK_SAMPLES * 2:
                    chunk, pending = pending[: CHUNK_SAMPLES * 2], pending[CHUNK_SAMPLES * 2 :]
                    audio = {"audio": base64.b64encode(chunk).decode("ascii")}
                    message = {"type": "realtime.input_audio_buffer.append", "data": audio}
                    ws.send(json.dumps(message, separators=(",", ":")))
                    if deadline is None:
                        deadline = time.monotonic() + seconds
            timeline.stop()
            stream.close()
        finally:
            pa.terminate()
    finally:
        ws.close()


def _wait_for_audio(timeline: Timeline, seconds: float) -> None:
    """Until the first frame went out (the device stream starting takes ~2 s), then seconds."""
    deadline = time.monotonic() + 20
    while not timeline.sends and time.monotonic() < deadline:
        time.sleep(0.02)
    if not timeline.sends:
        raise RuntimeError("the microphone sent no audio within 20 s")
    time.sleep(seconds)


# -- the row ----------------------------------------------------------------------------------


def run(plan: Plan) -> list[Measure]:
    from tests.rigs import alsa, pulse

    if pulse.MISSING:
        raise RuntimeError(pulse.MISSING)
    work = Path(tempfile.mkdtemp(prefix="navtalk-bench-capture-"))
    try:
        # before any PyAudio() in this process: the paced device lives in this config
        alsa.install(work / "alsa", pulse_socket=pulse.socket_path(work / "pulse"))
        rig = pulse.start(work / "pulse")
        try:
            return _measure(plan, rig)
        finally:
            rig.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(plan: Plan, rig: Any) -> list[Measure]:
    from tests.rigs import alsa

    from ..server_process import ServerProcess

    seconds = plan.seconds(7.5, 1.0)
    rounds = plan.count(2, 1)
    skip = plan.seconds(1.0, 0.3)
    timeline = Timeline()
    instrument(timeline)
    results: dict[str, tuple[list[float], list[float]]] = {"ours": ([], []), "base": ([], [])}
    tone = _tone(seconds=rounds * 2 * (seconds + 30))
    with ServerProcess() as server:
        player = rig.play(tone)
        try:
            for index in range(rounds):
                for side in ("ours", "base"):
                    progress(3, f"round {index + 1}/{rounds}: {side}")
                    if side == "ours":
                        stats = ours(server.url, alsa.PACED_INPUT, timeline, seconds)
                        _check(stats)
                    else:
                        baseline(server.url, alsa.PACED_INPUT, timeline, seconds)
                    per_buffer, per_frame = timeline.latencies(skip)
                    results[side][0].extend(per_buffer)
                    results[side][1].extend(per_frame)
        finally:
            player.terminate()
            player.wait(5)
    return _measures(results)


def _check(stats: dict[str, Any]) -> None:
    """Figures are only comparable when nothing was dropped on the way."""
    lost = stats["audio_chunks_dropped"] + stats["microphone"]["overflows"]
    if lost:
        progress(3, f"warning: {lost} chunks dropped or overflowed in our run")


def _tone(seconds: float) -> np.ndarray:
    """A quiet 440 Hz tone (48 kHz mono), played into the rig for the whole row."""
    t = np.arange(round(seconds * 48000)) / 48000
    return (np.sin(2 * np.pi * 440 * t) * TONE_LEVEL).astype(np.int16)


def _measures(results: dict[str, tuple[list[float], list[float]]]) -> list[Measure]:
    base_name = "PyAudio loop + ws-client"
    buffer_ours, buffer_base = Figures.of(results["ours"][0]), Figures.of(results["base"][0])
    frame_ours, frame_base = Figures.of(results["ours"][1]), Figures.of(results["base"][1])
    limit = CHUNK_MS + SLACK_MS
    return [
        Measure(
            row=3,
            what="capture->wire per buffer",
            unit="ms",
            ours=buffer_ours,
            baseline_name=base_name,
            baseline=buffer_base,
            target=f"p99 <= {limit:g} (chunk {CHUNK_MS:g} + {SLACK_MS:g})",
            met=buffer_ours.p99 is not None and buffer_ours.p99 <= limit,
        ),
        Measure(
            row=3,
            what="frame complete->wire",
            unit="ms",
            ours=frame_ours,
            baseline_name=base_name,
            baseline=frame_base,
        ),
    ]

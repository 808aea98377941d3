"""Row 4: connect -> ``session.updated``, connect -> first frame, speech end -> first reply frame.

``NavTalkClient`` beside ``BareClient`` (asyncio + websockets + aiortc by hand), one session
each per round, alternating, against the local server in a child process. Both convert every
video frame to RGB (the reply is seen in the picture). Clocks (``time.perf_counter``):

- start: ours just before ``NavTalkClient(...)`` is made (connect() follows at once); the
  baseline just before ``websockets.connect``;
- ``session.updated``: ours when ``connect()`` returns (it returns on that event); the baseline
  when its reader has parsed the event;
- first frame: ours when ``wait_for_video()`` returns (an RGB frame); the baseline when its
  drain task has the first frame decoded and converted;
- speech end -> reply: a sentence said by eSpeak NG, 24 kHz mono PCM16, sent in pieces of
  1536 samples (64 ms, the library's default) at real-time pace, then silence at the same pace
  as a live microphone would, until the reply shows. Speech end: ours when
  ``audio_stream().write()`` of the piece holding the last speech sample returns, the baseline
  when its ``ws.send()`` of that piece returns. Reply: the first frame whose mouth box is dark
  (the avatar's mouth opens as its voice plays), seen in ``on_video_frame`` / the drain task.
  The server's part (VAD hang-over, pocketsphinx, eSpeak NG) is most of it, the same for both,
  and pocketsphinx's time varies with the machine's load by hundreds of milliseconds;
- speech end -> ``speech_stopped``: the same start, to the server's VAD event reaching a
  callback (ours: ``client.on``, on the dispatcher thread) or the reader: the uplink and the
  socket's way back with a fixed server hang-over between, and no recognition to blur it.

The full run starts with one unmeasured session per side: the server's first recognition
loads pocketsphinx (a few hundred ms), and the first session in this process pays for
imports; ``--smoke`` skips it, so there the side that goes first (ours) looks slower.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Callable, Iterator

import numpy as np

import navtalk_sync as nt
from navtalk_sync.rtc.ice import restrict_host_candidates
from navtalk_sync.server import EspeakVoice
from navtalk_sync.server.face import MOUTH_BOX
from navtalk_sync.server.samples import resample

from ..server_process import ServerProcess
from .bare_asyncio import BareClient
from .plan import Plan
from .report import Figures, Measure, progress

RATE = 24_000
PIECE = 1536  # samples: NavTalkClient's default audio_chunk_samples
PIECE_SECONDS = PIECE / RATE
#: The share of dark pixels in the mouth box above which the mouth is open (closed: 0,
#: slightly open: 0.03, wide open: 0.25).
OPEN_MOUTH = 0.02
#: The silence a live microphone goes on sending after the sentence, at most.
MAX_SILENCE = 15.0
TIMEOUT = 15.0
BASELINE = "asyncio+aiortc"
SPEECH_STOPPED = "realtime.input_audio_buffer.speech_stopped"


class Speech:
    """A sentence in 64 ms pieces, and the piece that holds its last speech sample."""

    def __init__(self, text: str) -> None:
        samples, native = EspeakVoice()(text)
        voice = resample(samples, native, RATE)
        lead = np.zeros(RATE // 4, np.int16)  # a microphone opened just before speaking
        audio = np.concatenate([lead, voice]).astype(np.int16)
        loud = np.flatnonzero(np.abs(audio) > 300)
        self.last_speech_piece = int(loud[-1]) // PIECE
        audio = np.concatenate([audio, np.zeros(-len(audio) % PIECE, np.int16)])
        self.pieces = [audio[i : i + PIECE].tobytes() for i in range(0, len(audio), PIECE)]
        self.silence = bytes(2 * PIECE)


def mouth_open(image: np.ndarray) -> bool:
    """Whether the avatar's mouth is open in this RGB picture (its box holds dark pixels)."""
    height, width = image.shape[:2]
    x0, y0, x1, y1 = MOUTH_BOX
    box = image[int(y0 * height) : int(y1 * height), int(x0 * width) : int(x1 * width)]
    return float((box.astype(np.int32).sum(axis=2) < 3 * 80).mean()) > OPEN_MOUTH


class Round:
    """What one session measured: seconds from the start to each point."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.updated = self.first_frame = self.reply = self.stopped = float("nan")
        self.speech_end: float | None = None
        self.stopped_at: float | None = None
        self.replied_at: float | None = None

    def heard(self, kind: str) -> None:
        """An event from the socket: the server's VAD saw the speech stop."""
        if kind == SPEECH_STOPPED and self.stopped_at is None:
            self.stopped_at = time.perf_counter()

    def seen(self, image: np.ndarray) -> bool:
        """Look at a frame after the speech ended; True once the reply has shown."""
        if self.speech_end is not None and self.replied_at is None and mouth_open(image):
            self.replied_at = time.perf_counter()
        return self.replied_at is not None

    def since_start(self, at: float) -> float:
        return at - self.started


# ---------------------------------------------------------------------- ours


def ours(url: str, speech: Speech) -> Round:
    got = Round()
    replied = threading.Event()

    def look(frame: nt.VideoFrame) -> None:
        if got.seen(frame.image):
            replied.set()

    with nt.NavTalkClient("sk_bench", url=url, avatar_name="navtalk.Leo") as client:
        client.on_video_frame(look)
        client.on(SPEECH_STOPPED, lambda event: got.heard(event.type))
        client.connect(timeout=TIMEOUT)
        got.updated = got.since_start(time.perf_counter())
        client.wait_for_video(timeout=TIMEOUT)
        got.first_frame = got.since_start(time.perf_counter())
        stream = client.audio_stream("bench")
        for index, due in _schedule(speech):
            _sleep_until(due)
            stream.write(speech.pieces[index] if index >= 0 else speech.silence, RATE)
            if index == speech.last_speech_piece:
                got.speech_end = time.perf_counter()
            if replied.is_set():
                break
    return _finish(got)


# ---------------------------------------------------------------------- the baseline


def bare(url: str, speech: Speech) -> Round:
    return asyncio.run(_bare(url, speech))


async def _bare(url: str, speech: Speech) -> Round:
    got = Round()
    client = BareClient(url, on_image=got.seen, on_message=lambda m: got.heard(m.get("type")))
    try:
        await client.open()
        got.updated = got.since_start(await asyncio.wait_for(client.session_updated, TIMEOUT))
        got.first_frame = got.since_start(await asyncio.wait_for(client.first_frame, TIMEOUT))
        for index, due in _schedule(speech):
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            await client.send_audio(speech.pieces[index] if index >= 0 else speech.silence)
            if index == speech.last_speech_piece:
                got.speech_end = time.perf_counter()
            if got.replied_at is not None:
                break
    finally:
        await client.close()
    return _finish(got)


# ---------------------------------------------------------------------- shared


def _schedule(speech: Speech) -> Iterator[tuple[int, float]]:
    """(piece index, when to send it): the sentence, then silence pieces (index -1)."""
    start = time.perf_counter()
    count = len(speech.pieces) + int(MAX_SILENCE / PIECE_SECONDS)
    for n in range(count):
        yield (n if n < len(speech.pieces) else -1), start + n * PIECE_SECONDS


def _sleep_until(due: float) -> None:
    time.sleep(max(0.0, due - time.perf_counter()))


def _finish(got: Round) -> Round:
    if got.replied_at is None or got.speech_end is None:
        raise RuntimeError(f"no reply seen within {MAX_SILENCE:.0f} s of the speech's end")
    got.reply = got.replied_at - got.speech_end
    if got.stopped_at is not None:
        got.stopped = got.stopped_at - got.speech_end
    return got


#: The table's lines: what, and the seconds each round measured for it.
LINES: tuple[tuple[str, Callable[[Round], float]], ...] = (
    ("connect -> session.updated", lambda r: r.updated),
    ("connect -> first video frame", lambda r: r.first_frame),
    ("speech end -> speech_stopped event", lambda r: r.stopped),
    ("speech end -> first reply frame", lambda r: r.reply),
)


def run(plan: Plan) -> list[Measure]:
    restrict_host_candidates(["127.0.0.1"])
    rounds = plan.count(10, 1)
    speech = Speech("hello there" if not plan.smoke else "hello")
    sides: dict[str, Callable[[str, Speech], Round]] = {"ours": ours, "bare": bare}
    results: dict[str, list[Round]] = {name: [] for name in sides}
    with ServerProcess() as server:
        if not plan.smoke:  # first-use costs (imports, codec set-up) are not the handshake's
            for side in sides.values():
                side(server.url, speech)
        for n in range(rounds):
            order = list(sides) if n % 2 == 0 else list(reversed(sides))
            for name in order:
                got = sides[name](server.url, speech)
                results[name].append(got)
                figures = ", ".join(f"{pick(got) * 1e3:.0f}" for _, pick in LINES)
                progress(4, f"round {n + 1}/{rounds} {name}: {figures} ms")
    return [_measure(what, pick, results["ours"], results["bare"]) for what, pick in LINES]


def _measure(
    what: str, pick: Callable[[Round], float], ours: list[Round], bare: list[Round]
) -> Measure:
    mine = Figures.of([pick(r) * 1e3 for r in ours])
    base = Figures.of([pick(r) * 1e3 for r in bare])
    met = mine.p50 <= 1.2 * base.p50
    return Measure(4, what, "ms", mine, BASELINE, base, target="ratio <= 1.2", met=met)

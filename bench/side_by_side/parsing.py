"""Row 2: parse throughput, events a second through the typed parser vs ``json.loads`` alone.

The frames are a realistic session of the local server's, built with its frame builders: the
setup (``connected.success``, the WebRTC offer with a real aiortc SDP, ``session.created``,
``session.updated``), then ten spoken turns, each with speech started/stopped, the user's
transcript, the reply text word by word and its ``done`` events; the second line adds the
optional reply audio deltas (base64 PCM, one per 100 ms of speech). Ours is what the reader
runs per frame (``decode_frame`` + ``parse_event``: JSON, then a typed, validated event);
the baseline is ``json.loads`` alone. Events a second of this process's CPU time, median of
the rounds.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Callable

from aiortc import RTCPeerConnection

from navtalk_sync.events import decode_frame, parse_event
from navtalk_sync.server import frames

from .plan import Plan
from .report import Figures, Measure

REPLY = (
    "Breakfast is served from seven to half past ten in the garden room, and if you are in a "
    "hurry the lobby cafe has coffee and pastries from six in the morning until noon."
)
QUESTION = "When is breakfast served tomorrow morning?"
TURNS = 10


async def _offer_sdp() -> str:
    """An offer as the server makes it: video then audio, send only."""
    pc = RTCPeerConnection()
    pc.addTransceiver("video", direction="sendonly")
    pc.addTransceiver("audio", direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    sdp = pc.localDescription.sdp
    await pc.close()
    return str(sdp)


def session_frames(audio_deltas: bool) -> list[str]:
    """The text of every frame a client receives in a ten-turn session."""
    setup = [
        frames.connected_success("sess_8Kq2Xw1bT9", []),
        frames.webrtc_offer(asyncio.run(_offer_sdp())),
        frames.session_created(),
        frames.session_updated(),
    ]
    turns = []
    for _ in range(TURNS):
        reply_id = frames.new_response_id()
        turns += [frames.speech_started(), frames.speech_stopped()]
        turns.append(frames.input_transcription(QUESTION))
        for word in frames.split_reply(REPLY):
            turns.append(frames.transcript_delta(reply_id, word))
            if audio_deltas:  # about 0.35 s of speech a word, in 100 ms pieces
                turns += [frames.audio_delta(reply_id, bytes(4800))] * 3
        turns += [frames.transcript_done(reply_id, REPLY), frames.audio_done(reply_id)]
    return [frames.encode(frame) for frame in setup + turns]


def typed(texts: list[str]) -> None:
    for text in texts:
        parse_event(decode_frame(text))


def json_only(texts: list[str]) -> None:
    for text in texts:
        json.loads(text)


def events_per_second(parse: Callable[[list[str]], None], texts: list[str], repeat: int) -> float:
    started = time.process_time()
    for _ in range(repeat):
        parse(texts)
    return len(texts) * repeat / (time.process_time() - started)


def run(plan: Plan) -> list[Measure]:
    rounds = plan.count(5, 1)
    measures = []
    for audio_deltas in (False, True):
        texts = session_frames(audio_deltas)
        repeat = plan.count(max(1, 100_000 // len(texts)), 1)
        ours: list[float] = []
        baseline: list[float] = []
        for _ in range(rounds):  # alternating, so drift hits both
            ours.append(events_per_second(typed, texts, repeat))
            baseline.append(events_per_second(json_only, texts, repeat))
        mix = "session + audio deltas" if audio_deltas else "session (text deltas)"
        measures.append(
            Measure(
                row=2,
                what=f"parse: {mix}, {len(texts)} frames",
                unit="events/s",
                ours=Figures.median(ours),
                baseline_name="json.loads alone",
                baseline=Figures.median(baseline),
                target="(no target)",
                higher_is_better=True,
            )
        )
    return measures

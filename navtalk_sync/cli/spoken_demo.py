"""The spoken demo: a question said aloud, the avatar's answer heard and seen, kept as files.

Locally, eSpeak NG says the question into the client's audio path at the pace a microphone
would; with a licence, the user speaks into the default microphone. Either way the avatar's
first reply is watched (its voice for timing, its face for the contact sheet), the session is
recorded to an mp4, and a summary is printed at the end.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import NavTalkClient, events
from ..rtc.video import VideoFrame
from ..rtc.voice import AvatarAudio
from . import contact_sheet
from .common import EXIT_ERROR, EXIT_OK, ms
from .live import LivePrinter

__all__ = ["QUESTION", "RECORDING_NAME", "SHEET_NAME", "ReplyFootage", "hear_and_see"]

#: What eSpeak NG asks the local server (words its recogniser knows well).
QUESTION = "what is the weather like today"
RECORDING_NAME = "navtalk-demo.mp4"
SHEET_NAME = "navtalk-demo-face.png"

_LOUD_RMS = 300.0  # avatar audio louder than this is its voice, not silence
_QUIET_AFTER = 0.6  # seconds of quiet that end the reply
_MAX_FRAMES = 300  # frames kept (12 s at 25 fps, halved to 256 px: about 60 MB at most)


class ReplyFootage:
    """The avatar's first reply: when its voice started and ended, and its face meanwhile.

    ``on_audio`` runs on ``navtalk-avatar-audio`` and ``on_frame`` on ``navtalk-video``; a lock
    keeps the two consistent. Frames are kept at half size, at most ``_MAX_FRAMES`` of them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.voice_started: float | None = None  # time.monotonic() of the first loud chunk
        self.voice_ended: float | None = None  # ... of the last loud chunk so far
        self._frames: list[tuple[float, np.ndarray]] = []

    def on_audio(self, chunk: AvatarAudio) -> None:
        loud = float(np.sqrt(np.mean(chunk.pcm.astype(np.float64) ** 2))) > _LOUD_RMS
        with self._lock:
            if not loud or self._over(chunk.received_at):
                return
            if self.voice_started is None:
                self.voice_started = chunk.received_at
            self.voice_ended = chunk.received_at

    def on_frame(self, frame: VideoFrame) -> None:
        with self._lock:
            speaking = self.voice_started is not None and not self._over(frame.received_at)
            if speaking and len(self._frames) < _MAX_FRAMES:
                self._frames.append((frame.received_at, frame.image[::2, ::2].copy()))

    def reply_over(self) -> bool:
        """The avatar spoke and has been quiet since."""
        with self._lock:
            return self._over(time.monotonic())

    def frames(self) -> list[tuple[float, np.ndarray]]:
        """(seconds into the reply, image) of the frames while the avatar spoke."""
        with self._lock:
            if self.voice_started is None or self.voice_ended is None:
                return []
            start, end = self.voice_started, self.voice_ended
            return [(at - start, image) for at, image in self._frames if at <= end + 0.05]

    def _over(self, now: float) -> bool:
        return self.voice_ended is not None and now - self.voice_ended > _QUIET_AFTER


def hear_and_see(
    args: argparse.Namespace, license: str, avatar: dict[str, Any], url: str | None, local: bool
) -> int:
    """Hold the spoken demo: with ``local`` eSpeak NG asks (the local server), else the user
    speaks into the default microphone for ``args.seconds`` (the hosted service)."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    printer, footage = LivePrinter(), ReplyFootage()
    turns: list[events.Event] = []  # the library times each reply: client.turn
    options: dict[str, Any] = {"url": url} if url else {}
    speaker = args.speaker or not local
    started = time.monotonic()
    with NavTalkClient(license, **avatar, **options, speaker=True if speaker else None) as client:
        printer.attach(client, spoken=True)
        client.on(events.TurnReport, turns.append)
        client.on_avatar_audio(footage.on_audio)
        client.on_video_frame(footage.on_frame)
        client.connect(timeout=args.timeout)
        client.wait_for_video(timeout=args.timeout)
        print(f"connected: session {client.session_id} in {ms(time.monotonic() - started)}")
        client.record(out / RECORDING_NAME)
        if local:
            answered = _ask_aloud(client, footage, args.timeout)
        else:
            answered = _listen(client, footage, args.seconds)
        time.sleep(0.3)  # the last frames of the closed mouth, for the recording
        recording = client.stop_recording(timeout=args.timeout)
        stats = client.stats()
    if not answered:
        waited = args.timeout if local else args.seconds
        print(f"\nthe avatar did not answer aloud within {waited:g} s", file=sys.stderr)
        return EXIT_ERROR
    turn = next((t for t in turns if isinstance(t, events.TurnReport)), None)
    return _summarise(out, turn, footage, stats, recording, speaker)


def _ask_aloud(client: NavTalkClient, footage: ReplyFootage, timeout: float) -> bool:
    """Say QUESTION with eSpeak NG at real-time pace, then silence (as a microphone would go
    on sending) until the avatar's spoken reply is over; False if it never came."""
    from ..server import EspeakVoice  # the voice extra; checked by the caller

    voice, rate = EspeakVoice()(QUESTION)
    speech = np.concatenate([np.zeros(rate // 2, np.int16), voice.astype(np.int16)])
    piece = rate // 50  # 20 ms, like a microphone's buffers
    silence = np.zeros(piece, np.int16)
    stream = client.audio_stream("espeak")
    print(f'\n(eSpeak NG says: "{QUESTION}")')
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < len(speech) / rate + timeout:
        if sent >= len(speech) and footage.reply_over():
            break
        chunk = speech[sent : sent + piece] if sent < len(speech) else silence
        stream.write(chunk, rate)
        sent += len(chunk)
        time.sleep(max(0.0, started + sent / rate - time.monotonic()))
    stream.flush()
    return footage.reply_over()


def _listen(client: NavTalkClient, footage: ReplyFootage, seconds: float) -> bool:
    """The user speaks into the default microphone for ``seconds`` (Ctrl-C ends it sooner)."""
    client.start_microphone()
    print(f"\nSpeak now ({seconds:g} s; Ctrl-C ends it sooner).", flush=True)
    try:
        time.sleep(seconds)
    except KeyboardInterrupt:
        pass
    client.stop_microphone()
    return footage.voice_started is not None


def _summarise(
    out: Path,
    turn: events.TurnReport | None,
    footage: ReplyFootage,
    stats: dict[str, Any],
    recording: Any,
    speaker: bool,
) -> int:
    frames = footage.frames()
    sheet = out / SHEET_NAME
    picked = contact_sheet.pick_evenly(frames)
    contact_sheet.write_sheet(
        [image for _, image in picked], sheet, [f"{at:.2f} s" for at, _ in picked]
    )
    print("\nsummary")
    if turn is not None:
        print("  turn: after your speech ended, " + ", ".join(_latencies(turn)))
    print(
        f"  video: {stats.get('video_frames_received', 0)} frames received, "
        f"{stats.get('video_frames_dropped', 0)} dropped"
    )
    print(
        f"  audio: {stats.get('avatar_audio_received', 0)} chunks of the avatar's voice received"
        f", {stats.get('avatar_audio_dropped', 0)} dropped; "
        f"{stats.get('audio_chunks_dropped', 0)} of yours dropped; "
        f"speaker {'on' if speaker else 'off (--speaker to hear it)'}"
    )
    if recording is not None:
        print(
            f"  recording: {recording.path} ({recording.duration:.1f} s, "
            f"{recording.video_frames} video frames, {recording.audio_frames} audio frames)"
        )
    span = f"{picked[0][0]:.2f}-{picked[-1][0]:.2f} s" if picked else "nothing"
    print(f"  face: {sheet} ({len(picked)} frames, {span} into the reply)")
    return EXIT_OK


def _latencies(turn: events.TurnReport) -> list[str]:
    """The moments of the reply, from the library's report (seconds from the end of speech)."""
    moments = (
        ("first reply text", turn.first_text),
        ("voice heard", turn.first_voice),
        ("mouth moving", turn.mouth_moving),
        ("audio done", turn.audio_done),
        ("voice ended", turn.voice_ended),
    )
    return [f"{name} {ms(at)}" for name, at in moments if at is not None]

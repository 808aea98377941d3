"""Record the avatar's picture and voice to an ``.mp4`` or ``.mkv`` file, off the rtc loop.

aiortc's own ``MediaRecorder`` encodes on the event loop, which would stall the ``navtalk-rtc``
thread that also delivers frames to the user. ``Recorder`` instead takes decoded frames from
that thread through ``add_video()`` / ``add_audio()``, which only append to a bounded queue, and
encodes them on its own ``navtalk-recorder`` thread.

Queue policy: one queue of ``queue_frames`` frames (both kinds). When it is full the frame
being added is dropped and counted (``video_dropped`` / ``audio_dropped``); the recording goes
on with a gap rather than slowing down the caller.

Timing: a stream's first frame is placed at its arrival time (``time.monotonic()`` when
``add_*()`` was called), counted from the arrival of the recording's first frame of either kind;
each later frame is placed by its own pts relative to that stream's first frame, so the
spacing is the sender's, not the network's jitter. pts are unwrapped as 32-bit RTP timestamps.
A frame whose pts does not move forward is dropped and counted; a jump back of more than
``RESTART_STEP`` seconds, or forward of more than ``RESTART_JUMP`` (a new peer after a
reconnection), is taken as a restarted stream, placed anew at its arrival time.

The user's side (``user_audio=True``): what went up the socket, after echo cancellation,
handed to ``add_user_audio()`` as it is sent, becomes a second audio stream (mono), placed at
its arrival and never before the end of the piece before it (audio sent faster than real time
is laid end to end). The conversation's text (``subtitles=True``): ``add_cue()`` takes each
line with its ``time.monotonic()`` start and end; when the file is finished the cues are
written as a WebVTT file beside the recording (``call.mp4`` -> ``call.vtt``) and, in an
``.mp4``, as its timed-text track too (Matroska would place a track written at the end after
everything else in the file). Lines said before the recording began are left out. At most
``MAX_CUES`` are kept (the oldest go).

Streams: a file's streams must all exist before its first packet is written. The audio stream
always has the same shape (48 kHz stereo), so it needs no frame to be made; the video stream
takes its size from the first video frame (later frames of another size are scaled to it).
When audio comes first, it is held back until a video frame arrives or ``VIDEO_WAIT`` seconds of
audio have passed; after that the file has no video stream and video frames are dropped. An
audio stream that never got a frame is left out of an ``.mp4`` (the muxer skips empty tracks)
but stays, empty, in an ``.mkv``.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import attrs
import av
import numpy as np

from ..errors import InvalidArgument, NavTalkTimeout, RecordingError
from ..logs import get_logger
from ..threads import LibraryThread
from .subtitles import ASS_HEADER, Cue, mov_text, track_cues, webvtt

__all__ = ["Recorder", "RecordingError", "RecordingSummary"]

log = get_logger(__name__)

Kind = Literal["video", "audio", "user"]
Frame = av.VideoFrame | av.AudioFrame

#: Seconds of audio held back while waiting for the first video frame (it sets the picture size).
VIDEO_WAIT = 1.0
#: Frames held back at most while waiting for it (the user's voice can come long before it).
MAX_HELD_BACK = 1500
#: A pts jump back larger than this (in seconds) is a restarted stream, not a stray late frame.
RESTART_STEP = 1.0
#: A pts jump forward larger than this (in seconds) is a new stream too: after a reconnection
#: the new peer's RTP clock starts anywhere.
RESTART_JUMP = 30.0
#: RTP timestamps are 32-bit and wrap around.
RTP_WRAP = 1 << 32
#: Share of close()'s timeout spent writing what is queued; the rest is kept for flushing the
#: encoders and writing the file's index, so the file is valid even when the backlog is not.
DRAIN_SHARE = 0.75

VIDEO_TIME_BASE = Fraction(1, 90000)  # the RTP video clock: aiortc's pts step exactly
AUDIO_RATE = 48000
AUDIO_LAYOUT = "stereo"
#: x264 needs a nominal frame rate for rate control; real timing comes from each frame's pts.
NOMINAL_FPS = 25
#: The user's voice: one channel, encoded at the avatar's rate.
USER_LAYOUT = "mono"
#: Lines of the conversation kept for the subtitles (a day of talk; the oldest go first).
MAX_CUES = 10_000
SUBTITLE_TIME_BASE = Fraction(1, 1000)


@attrs.frozen
class RecordingSummary:
    """What ``Recorder.close()`` wrote.

    ``video_frames`` / ``audio_frames`` went into the file; ``*_dropped`` were handed to
    ``add_*()`` but are not in it (queue full, pts not moving forward, no stream for them, or
    still queued when ``close()`` ran out of time). ``duration`` is in seconds. ``saved`` is
    False when nothing was recorded: then no file is left at ``path``. ``user_audio_frames``:
    pieces of the user's voice in its own stream; ``cues``: lines of text in the subtitles,
    written beside the recording to ``subtitles`` (None without subtitles).
    """

    path: Path
    video_frames: int
    audio_frames: int
    duration: float
    video_dropped: int
    audio_dropped: int
    saved: bool
    user_audio_frames: int = 0
    cues: int = 0
    subtitles: Path | None = None


@attrs.frozen
class _Container:
    """What a file suffix means: the muxer, the audio encoder with its sample format, and the
    text track's codec."""

    format: str
    audio_codec: str
    audio_format: str
    text_codec: str | None


CONTAINERS = {
    ".mp4": _Container("mp4", "aac", "fltp", "mov_text"),
    # Matroska writes blocks in file order: a text track written at the end would be read
    # only there by a player going front to back. Its subtitles are the .vtt beside.
    ".mkv": _Container("matroska", "libopus", "s16", None),
}


@attrs.define
class _Tally:
    """Frame counts of one kind. Each field has a single writing thread (named beside it)."""

    written: int = 0  # recorder
    queue_full: int = 0  # the add_*() caller, under the recorder's lock
    bad_pts: int = 0  # recorder
    unplaced: int = 0  # recorder: no stream for it, or discarded when close() ran out of time

    @property
    def dropped(self) -> int:
        return self.queue_full + self.bad_pts + self.unplaced


class _Timeline:
    """Places one stream's frames on the recording's clock (seconds from its start)."""

    def __init__(self) -> None:
        self._time_base: Fraction | None = None
        self._last_pts = 0  # as the frame gave it (wrapped)
        self._ticks = 0  # unwrapped ticks since the anchor frame
        self._anchor = 0.0  # where the anchor frame sits
        self._last_time = -math.inf
        self.step = 0.0  # seconds between the last two frames: a frame's length when unknown

    def place(self, frame: Frame, arrival: float, length: float) -> float | None:
        """Seconds at which ``frame`` starts, or None when it does not move forward.

        ``arrival`` is when it was handed over, in seconds from the recording's start;
        ``length`` its own length in seconds when known (audio), else 0.
        """
        pts, time_base = frame.pts, frame.time_base
        if pts is None or time_base is None:  # nothing to go by but the arrival
            return self._anchor_at(None, None, arrival)
        if time_base != self._time_base:  # the first frame with a clock, or another clock
            return self._anchor_at(pts, time_base, max(arrival, self.end(length)))
        step = (pts - self._last_pts) % RTP_WRAP
        if step >= RTP_WRAP // 2:
            step -= RTP_WRAP
        if step <= 0:
            if -step * time_base > RESTART_STEP:
                return self._anchor_at(pts, time_base, max(arrival, self.end(length)))
            return None
        if step * time_base > RESTART_JUMP:
            return self._anchor_at(pts, time_base, max(arrival, self.end(length)))
        self._last_pts = pts
        self._ticks += step
        return self._commit(self._anchor + float(self._ticks * time_base))

    def end(self, length: float) -> float:
        """Where the last placed frame ends, if it lasts ``length`` s (0: as long as a step)."""
        return self._last_time + (length or self.step)

    def _anchor_at(self, pts: int | None, time_base: Fraction | None, when: float) -> float | None:
        self._time_base = time_base
        self._last_pts = pts or 0
        self._ticks = 0
        self._anchor = when
        return self._commit(when)

    def _commit(self, when: float) -> float | None:
        if when <= self._last_time:
            return None
        if self._last_time > -math.inf:
            self.step = when - self._last_time
        self._last_time = when
        return when


class _AudioOut:
    """One audio stream of the file with its resampler (recorder thread only)."""

    def __init__(self, stream: Any, mux: Any) -> None:
        self.stream = stream
        self._mux = mux
        self._resampler: av.AudioResampler | None = None
        self._input: tuple[str, str, int] | None = None

    def write(self, frame: av.AudioFrame, when: float) -> None:
        # A copy, so that setting its pts does not touch the caller's frame.
        sound = av.AudioFrame.from_ndarray(
            frame.to_ndarray(), format=frame.format.name, layout=frame.layout.name
        )
        sound.sample_rate = frame.sample_rate
        sound.time_base = Fraction(1, frame.sample_rate)
        sound.pts = round(when * frame.sample_rate)
        self._encode(self._resampler_for(sound).resample(sound))

    def finish(self) -> None:
        if self._resampler is not None:
            self._encode(self._resampler.resample(None))
        self._mux(self.stream.encode(None))

    def _resampler_for(self, frame: av.AudioFrame) -> av.AudioResampler:
        """The resampler for this frame's format; a new one (old one flushed) when it changed."""
        shape = (frame.format.name, frame.layout.name, frame.sample_rate)
        if self._resampler is None or shape != self._input:
            if self._resampler is not None:
                self._encode(self._resampler.resample(None))
            context = self.stream.codec_context
            self._resampler = av.AudioResampler(
                format=context.format,
                layout=context.layout,
                rate=context.sample_rate,
                frame_size=context.frame_size or None,
            )
            self._input = shape
        return self._resampler

    def _encode(self, frames: list[av.AudioFrame]) -> None:
        for frame in frames:
            self._mux(self.stream.encode(frame))


class _FileWriter:
    """The recorder thread's side: timing, stream creation, encoding and muxing.

    Every PyAV object here (container, encoders, resamplers) is used on the recorder thread
    only.
    """

    def __init__(
        self,
        container: av.container.OutputContainer,
        kind: _Container,
        tallies: dict[Kind, _Tally],
        *,
        video: bool,
        audio: bool,
        user_audio: bool = False,
        subtitles: bool = False,
    ) -> None:
        self._container = container
        self._kind = kind
        self._tallies = tallies
        self._want_video = video
        self._want_audio = audio
        self._want_user = user_audio
        self._want_text = subtitles
        self.origin: float | None = None  # time.monotonic() of the recording's start
        self._timelines: dict[Kind, _Timeline] = {"video": _Timeline(), "audio": _Timeline()}
        self._user_end = 0.0  # where the user's voice placed so far ends
        self._pending: list[tuple[Kind, Frame, float]] = []
        self._streams_made = False
        self._video: Any = None  # av.VideoStream once made
        self._audio: _AudioOut | None = None
        self._user: _AudioOut | None = None
        self._text: Any = None  # the text track, once made
        self.duration = 0.0

    # ------------------------------------------------------------------ frames in

    def add(self, kind: Kind, frame: Frame, arrival: float) -> None:
        """Place a frame on the recording's clock and write it (or hold it until streams exist)."""
        if self.origin is None:
            self.origin = arrival
        when = self._place(kind, frame, max(0.0, arrival - self.origin))
        if when is None:
            self._tallies[kind].bad_pts += 1
            return
        if self._streams_made:
            self._write(kind, frame, when)
            return
        self._pending.append((kind, frame, when))
        if self._can_make_streams():
            self._make_streams()

    def _place(self, kind: Kind, frame: Frame, arrival: float) -> float | None:
        length = frame.samples / frame.sample_rate if isinstance(frame, av.AudioFrame) else 0.0
        if kind == "user":  # sent, not received: no pts; laid end to end when sent in a burst
            when = max(arrival, self._user_end)
            self._user_end = when + length
            return when
        return self._timelines[kind].place(frame, arrival, length)

    def finish(self, cues: list[Cue]) -> None:
        """Write what is held back and the text track, flush the encoders, close the file."""
        if not self._streams_made and (self._pending or cues):
            self._make_streams()
        for out in (self._audio, self._user):
            if out is not None:
                out.finish()
        if self._video is not None:
            self._mux(self._video.encode(None))
        if self._text is not None:
            self._write_text(cues)
        self._container.close()

    def abandon(self) -> None:
        """Close the file after a failure, as far as that still works."""
        with contextlib.suppress(Exception):
            self._container.close()

    # ------------------------------------------------------------------ streams

    def _can_make_streams(self) -> bool:
        if not self._want_video or any(kind == "video" for kind, _, _ in self._pending):
            return True
        if len(self._pending) >= MAX_HELD_BACK:  # the picture is not coming
            return True
        # the avatar's audio says how long its picture is late; the user's (sent before the
        # avatar's media, or in a burst) says nothing about it
        avatar = [when for kind, _, when in self._pending if kind == "audio"]
        return bool(avatar) and avatar[-1] - avatar[0] >= VIDEO_WAIT

    def _make_streams(self) -> None:
        first_video = next((f for _, f, _ in self._pending if isinstance(f, av.VideoFrame)), None)
        if first_video is not None:
            self._video = self._add_video_stream(first_video.width, first_video.height)
        elif self._want_video:
            log.info("no video within %.1f s of audio: recording audio only", VIDEO_WAIT)
        if self._want_audio:
            self._audio = _AudioOut(self._add_audio_stream(AUDIO_LAYOUT), self._mux)
        if self._want_user:
            self._user = _AudioOut(self._add_audio_stream(USER_LAYOUT), self._mux)
        if self._want_text and self._kind.text_codec is not None:
            self._text = self._add_text_stream()
        self._streams_made = True
        pending, self._pending = self._pending, []
        for kind, frame, when in pending:
            self._write(kind, frame, when)

    def _add_video_stream(self, width: int, height: int) -> Any:
        stream = self._container.add_stream("libx264", rate=NOMINAL_FPS)
        context = stream.codec_context
        # 4:2:0 needs even sizes; an odd first frame is scaled down by a pixel.
        context.width = max(2, width - width % 2)
        context.height = max(2, height - height % 2)
        context.pix_fmt = "yuv420p"
        context.time_base = VIDEO_TIME_BASE
        # zerolatency: no frames held back for lookahead or B-frames, so finishing the file
        # inside close()'s budget costs milliseconds (about 100 ms without it).
        context.options = {"preset": "veryfast", "tune": "zerolatency"}
        stream.time_base = VIDEO_TIME_BASE
        return stream

    def _add_audio_stream(self, layout: str) -> Any:
        stream = self._container.add_stream(self._kind.audio_codec, rate=AUDIO_RATE)
        context: Any = stream.codec_context  # an audio codec context
        context.layout = layout
        context.format = self._kind.audio_format
        context.time_base = Fraction(1, AUDIO_RATE)
        stream.time_base = Fraction(1, AUDIO_RATE)
        context.open()  # to learn the encoder's frame size, which the resampler cuts to
        return stream

    def _add_text_stream(self) -> Any:
        stream: Any = self._container.add_stream("mov_text")
        # FFmpeg's text encoders convert from ASS and will not open without its header
        stream.codec_context.subtitle_header = ASS_HEADER
        stream.time_base = SUBTITLE_TIME_BASE
        return stream

    # ------------------------------------------------------------------ encoding

    def _write(self, kind: Kind, frame: Frame, when: float) -> None:
        if isinstance(frame, av.VideoFrame):
            if self._video is None:
                self._tallies["video"].unplaced += 1
                return
            self._write_video(frame, when)
            end = self._timelines["video"].end(0.0)
        else:
            out = self._user if kind == "user" else self._audio
            if out is None:
                self._tallies[kind].unplaced += 1
                return
            out.write(frame, when)
            end = when + frame.samples / frame.sample_rate
        self._tallies[kind].written += 1
        self.duration = max(self.duration, end)

    def _write_video(self, frame: av.VideoFrame, when: float) -> None:
        context = self._video.codec_context
        picture = frame.reformat(width=context.width, height=context.height, format="yuv420p")
        if picture is frame:  # the caller's frame: copy it rather than rewrite its pts
            picture = av.VideoFrame.from_ndarray(frame.to_ndarray(), format="yuv420p")
        picture.time_base = VIDEO_TIME_BASE
        picture.pts = round(when / VIDEO_TIME_BASE)
        self._mux(self._video.encode(picture))

    def _write_text(self, cues: list[Cue]) -> None:
        # written last: a cue is known only once its line has been said; an .mp4 indexes
        # each track's samples, so a track written after the others plays in its place
        for cue in track_cues(cues):
            packet = av.Packet(mov_text(cue.text))
            packet.stream = self._text
            packet.time_base = SUBTITLE_TIME_BASE
            packet.pts = packet.dts = round(cue.start / SUBTITLE_TIME_BASE)
            packet.duration = max(1, round((cue.end - cue.start) / SUBTITLE_TIME_BASE))
            self._container.mux_one(packet)

    def _mux(self, packets: list[av.Packet[Any]]) -> None:
        for packet in packets:
            self._container.mux_one(packet)


class Recorder:
    """Writes the avatar's picture and voice to ``path`` on its own ``navtalk-recorder`` thread.

    ``path`` ends in ``.mp4`` (H.264 + AAC) or ``.mkv`` (H.264 + Opus). ``video`` / ``audio``
    choose what of the avatar is recorded, ``user_audio`` adds the user's voice as a second
    audio stream, ``subtitles`` the conversation's text (see the module's notes);
    ``queue_frames`` bounds the frames waiting to be encoded (see the module's notes for the
    queue policy and the timing). Use::

        recorder = Recorder("avatar.mp4").start()
        ...                                   # add_video() / add_audio() from the rtc loop
        summary = recorder.close()

    or ``with Recorder("avatar.mp4") as recorder: ...``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        video: bool = True,
        audio: bool = True,
        user_audio: bool = False,
        subtitles: bool = False,
        queue_frames: int = 256,
    ) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in CONTAINERS:
            accepted = " or ".join(CONTAINERS)
            raise InvalidArgument(
                f"cannot record to {self.path.name!r}: the file name must end in {accepted}"
            )
        if not (video or audio or user_audio):
            raise InvalidArgument("nothing to record: video and audio are both off")
        if isinstance(queue_frames, bool) or not isinstance(queue_frames, int) or queue_frames < 1:
            raise InvalidArgument(f"queue_frames must be a whole number >= 1, not {queue_frames!r}")
        self._container_kind = CONTAINERS[suffix]
        self._wanted: dict[Kind, bool] = {"video": video, "audio": audio, "user": user_audio}
        self._subtitles = subtitles
        self._cues: deque[Cue] = deque(maxlen=MAX_CUES)  # time.monotonic() start and end
        self._capacity = queue_frames
        self._tallies: dict[Kind, _Tally] = {"video": _Tally(), "audio": _Tally(), "user": _Tally()}
        self._queue: deque[tuple[Kind, Frame, float]] = deque()
        self._cond = threading.Condition()
        self._state: Literal["new", "recording", "closing", "closed"] = "new"
        self._discard_after: float | None = None
        self._error: Exception | None = None
        self._writer: _FileWriter | None = None
        self._thread: threading.Thread | None = None
        self._close_lock = threading.Lock()
        self._summary: RecordingSummary | None = None

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Recorder:
        """Create the file and start the ``navtalk-recorder`` thread (idempotent).

        Raises ``RecordingError`` when the file cannot be written, or when the recorder was
        already closed.
        """
        with self._cond:
            if self._state == "recording":
                return self
            if self._state != "new":
                raise RecordingError(f"the recorder for {self.path} is closed; make a new one")
            container = self._open_file()
            self._writer = _FileWriter(
                container,
                self._container_kind,
                self._tallies,
                video=self._wanted["video"],
                audio=self._wanted["audio"],
                user_audio=self._wanted["user"],
                subtitles=self._subtitles,
            )
            self._thread = LibraryThread(target=self._run, name="navtalk-recorder")
            self._state = "recording"
            self._thread.start()
        log.info("recording to %s", self.path)
        return self

    def _open_file(self) -> av.container.OutputContainer:
        try:
            # PyAV creates the file only when the first packet is written: find out now.
            with open(self.path, "wb"):
                pass
        except OSError as exc:
            raise RecordingError(f"cannot write the recording to {self.path}: {exc}") from exc
        try:
            return av.open(str(self.path), mode="w", format=self._container_kind.format)
        except (OSError, av.FFmpegError) as exc:
            self.path.unlink(missing_ok=True)
            raise RecordingError(f"cannot record to {self.path}: {exc}") from exc

    def close(self, timeout: float = 5.0) -> RecordingSummary:
        """Write what is queued, finish the file and join the thread (idempotent).

        Queued frames are written for up to ``DRAIN_SHARE`` of ``timeout``; the rest are
        dropped so that the file is still finished in time. Raises ``RecordingError`` (with the
        summary) when writing failed, ``NavTalkTimeout`` when the thread did not end in time
        (calling ``close()`` again waits once more).
        """
        with self._close_lock:
            if self._summary is None:
                self._summary = self._finish(timeout)
        if self._error is not None:
            raise RecordingError(
                f"recording to {self.path} failed: {self._error}", self._summary
            ) from self._error
        return self._summary

    def _finish(self, timeout: float) -> RecordingSummary:
        with self._cond:
            never_started = self._state == "new"
            self._state = "closing"
            if self._discard_after is None:
                self._discard_after = time.monotonic() + timeout * DRAIN_SHARE
            self._cond.notify_all()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise NavTalkTimeout(f"the recorder to finish {self.path}", timeout)
        with self._cond:
            self._state = "closed"
        saved = not never_started and any(t.written for t in self._tallies.values())
        if not never_started and not saved and self._error is None:
            self.path.unlink(missing_ok=True)  # nothing recorded: leave no empty file behind
        cues = self._shown_cues()
        subtitles = self._write_webvtt(cues) if saved and self._subtitles else None
        summary = RecordingSummary(
            path=self.path,
            video_frames=self._tallies["video"].written,
            audio_frames=self._tallies["audio"].written,
            duration=self._writer.duration if self._writer is not None else 0.0,
            video_dropped=self._tallies["video"].dropped,
            audio_dropped=self._tallies["audio"].dropped,
            saved=saved,
            user_audio_frames=self._tallies["user"].written,
            cues=len(cues) if subtitles else 0,
            subtitles=subtitles,
        )
        log.info("recording to %s finished: %s", self.path, summary)
        return summary

    # ------------------------------------------------------------------ frames in

    def add_video(self, frame: av.VideoFrame) -> bool:
        """Queue a decoded picture; never blocks, never changes ``frame``.

        Returns False when the frame was not taken: the queue was full (counted in
        ``video_dropped``), video is off, or the recorder is not recording.
        """
        if not isinstance(frame, av.VideoFrame):
            raise InvalidArgument(f"add_video() takes an av.VideoFrame, not {type(frame).__name__}")
        return self._offer("video", frame)

    def add_audio(self, frame: av.AudioFrame) -> bool:
        """Queue decoded sound; never blocks, never changes ``frame``. Returns as ``add_video``."""
        if not isinstance(frame, av.AudioFrame):
            raise InvalidArgument(f"add_audio() takes an av.AudioFrame, not {type(frame).__name__}")
        return self._offer("audio", frame)

    def add_user_audio(self, pcm: np.ndarray, sample_rate: int) -> bool:
        """Queue a piece of the user's voice as it goes up (int16 mono); never blocks. Returns
        as ``add_video``; False too when the recorder keeps no user audio."""
        if not self._wanted["user"]:
            return False
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(pcm, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
        )
        frame.sample_rate = sample_rate
        return self._offer("user", frame)

    def add_cue(self, start: float, end: float, speaker: str, text: str) -> None:
        """Keep one line of the conversation for the subtitles (``start`` and ``end`` are
        ``time.monotonic()`` values); any thread, never blocks."""
        if self._subtitles and text.strip():
            with self._cond:
                if self._state == "recording":
                    self._cues.append(Cue(start, end, speaker, text.strip()))

    def _shown_cues(self) -> list[Cue]:
        """The cues on the recording's clock (seconds from its first frame)."""
        writer = self._writer
        origin = writer.origin if writer is not None else None
        if origin is None:
            return []
        with self._cond:
            cues = list(self._cues)
        shown = [attrs.evolve(c, start=c.start - origin, end=c.end - origin) for c in cues]
        return [cue for cue in shown if cue.end > 0]  # said before the recording began

    def _write_webvtt(self, cues: list[Cue]) -> Path | None:
        path = self.path.with_suffix(".vtt")
        try:
            path.write_text(webvtt(cues), encoding="utf-8")
        except OSError as exc:
            log.error("could not write the subtitles to %s: %s", path, exc)
            return None
        return path

    def _offer(self, kind: Kind, frame: Frame) -> bool:
        arrival = time.monotonic()
        with self._cond:
            if self._state != "recording" or self._error is not None or not self._wanted[kind]:
                return False
            if len(self._queue) >= self._capacity:
                self._tallies[kind].queue_full += 1
                return False
            self._queue.append((kind, frame, arrival))
            self._cond.notify()
        return True

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        writer = self._writer
        assert writer is not None
        try:
            while (item := self._next_item()) is not None:
                writer.add(*item)
            writer.finish(self._shown_cues() if self._subtitles else [])
        except Exception as exc:  # disk full, encoder failure...: the recording stops
            log.error("recording to %s failed: %s", self.path, exc, exc_info=True)
            with self._cond:
                self._error = exc
                self._discard_queued()
            writer.abandon()

    def _next_item(self) -> tuple[Kind, Frame, float] | None:
        """The next queued frame; None once the recorder is closing and the queue is empty."""
        with self._cond:
            while not self._queue and self._state == "recording":
                self._cond.wait()
            if self._discard_after is not None and time.monotonic() > self._discard_after:
                self._discard_queued()
            return self._queue.popleft() if self._queue else None

    def _discard_queued(self) -> None:
        for kind, _, _ in self._queue:
            self._tallies[kind].unplaced += 1
        self._queue.clear()

    # ------------------------------------------------------------------ state

    def stats(self) -> dict[str, Any]:
        """Counters: per kind ``*_frames`` (written), ``*_dropped`` (all not written) and the
        reasons ``*_queue_full`` and ``*_bad_pts``; ``queue_depth`` / ``queue_frames``;
        ``duration`` written so far (s); ``state``; ``error`` (text or None)."""
        with self._cond:
            counts: dict[str, Any] = {
                "state": self._state,
                "queue_depth": len(self._queue),
                "queue_frames": self._capacity,
                "error": str(self._error) if self._error is not None else None,
            }
            for kind, tally in self._tallies.items():
                counts[f"{kind}_frames"] = tally.written
                counts[f"{kind}_dropped"] = tally.dropped
                counts[f"{kind}_queue_full"] = tally.queue_full
                counts[f"{kind}_bad_pts"] = tally.bad_pts
        counts["duration"] = self._writer.duration if self._writer is not None else 0.0
        return counts

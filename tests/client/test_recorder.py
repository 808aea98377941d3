"""Recording the avatar's picture and voice: real PyAV frames in, a real file read back.

The frames look like what aiortc hands over: 512x512 yuv420p pictures at 25 fps with pts in
1/90000, and 20 ms of 48 kHz s16 stereo sound with pts in 1/48000, both starting at arbitrary
RTP timestamps. The tests feed them faster than real time. The recorder places each stream's
first frame at its arrival time and the rest by pts, so frames fed in a burst keep their media
spacing, and a stream is late in the file only when the test really waits before feeding it.
"""

from __future__ import annotations

import os
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import navtalk_sync as nt
from navtalk_sync.rtc.recorder import Recorder, RecordingError, RecordingSummary
from tests.helpers import wait_until

pytestmark = pytest.mark.timeout(60)

FPS = 25
SIZE = 512
VIDEO_TICKS = 90000 // FPS  # pts step of one picture in 1/90000
AUDIO_SAMPLES = 960  # 20 ms at 48 kHz
TONE = 440.0
VIDEO_START = 3_000_000_000  # RTP timestamps start anywhere
AUDIO_START = 1_234_567_890
WRAP = 1 << 32

#: Eight bar colours; the bars move one place to the right every 5 pictures (0.2 s).
PALETTE = np.array(
    [
        (235, 235, 235),
        (235, 235, 16),
        (16, 235, 235),
        (16, 235, 16),
        (235, 16, 235),
        (235, 16, 16),
        (16, 16, 235),
        (16, 16, 16),
    ],
    dtype=np.uint8,
)


def bars_image(index: int, size: int = SIZE) -> np.ndarray:
    """The RGB picture number ``index`` shows."""
    columns = np.arange(size) * len(PALETTE) // size
    colours = PALETTE[(columns - index // 5) % len(PALETTE)]
    return np.broadcast_to(colours, (size, size, 3)).copy()


def picture(index: int, start: int = VIDEO_START, size: int = SIZE) -> av.VideoFrame:
    frame = av.VideoFrame.from_ndarray(bars_image(index, size), format="rgb24")
    frame = frame.reformat(format="yuv420p")
    frame.pts = (start + index * VIDEO_TICKS) % WRAP
    frame.time_base = Fraction(1, 90000)
    return frame


def sound(index: int, start: int = AUDIO_START) -> av.AudioFrame:
    t = (np.arange(AUDIO_SAMPLES) + index * AUDIO_SAMPLES) / 48000
    wave = (np.sin(2 * np.pi * TONE * t) * 10000).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(
        np.repeat(wave, 2).reshape(1, -1), format="s16", layout="stereo"
    )
    frame.sample_rate = 48000
    frame.pts = (start + index * AUDIO_SAMPLES) % WRAP
    frame.time_base = Fraction(1, 48000)
    return frame


def feed(
    recorder: Recorder,
    seconds: float,
    *,
    video: bool = True,
    audio: bool = True,
    first: int = 0,
    video_start: int = VIDEO_START,
    audio_start: int = AUDIO_START,
) -> None:
    """Add ``seconds`` of both kinds in media order, from 20 ms step ``first`` on, at once."""
    for step in range(first, first + round(seconds * 50)):
        if video and step % 2 == 0:
            assert recorder.add_video(picture(step // 2, video_start))
        if audio:
            assert recorder.add_audio(sound(step, audio_start))


def record(path: Path, seconds: float = 3.0, **options) -> RecordingSummary:
    wanted = {kind: options.get(kind, True) for kind in ("video", "audio")}
    with Recorder(path, **options) as recorder:
        feed(recorder, seconds, **wanted)
    return recorder.close()


def codecs(path: Path) -> dict[str, str]:
    with av.open(str(path)) as container:
        return {stream.type: stream.codec_context.name for stream in container.streams}


def duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return container.duration / av.time_base


def decoded_pictures(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def decoded_sound(path: Path) -> np.ndarray:
    """The first channel of the audio stream, as floats."""
    with av.open(str(path)) as container:
        chunks = [frame.to_ndarray() for frame in container.decode(audio=0)]
    samples = np.concatenate(chunks, axis=1)[0]
    return samples.astype(np.float64) / (32768 if samples.dtype == np.int16 else 1)


def loudest_frequency(samples: np.ndarray, rate: int = 48000) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum)) * rate / len(samples)


def first_packet_time(path: Path, kind: str) -> float:
    with av.open(str(path)) as container:
        for packet in container.demux(getattr(container.streams, kind)[0]):
            if packet.pts is not None:
                return float(packet.pts * packet.time_base)
    raise AssertionError(f"no {kind} packet")


# ---------------------------------------------------------------------------------- the file


def test_an_mp4_holds_the_picture_and_the_voice(tmp_path):
    path = tmp_path / "avatar.mp4"
    summary = record(path, 3.0)

    assert summary == RecordingSummary(
        path=path,
        video_frames=75,
        audio_frames=150,
        duration=pytest.approx(3.0, abs=0.1),
        video_dropped=0,
        audio_dropped=0,
        saved=True,
    )
    assert codecs(path) == {"video": "h264", "audio": "aac"}
    assert duration(path) == pytest.approx(3.0, abs=0.3)

    pictures = decoded_pictures(path)
    assert len(pictures) == 75
    assert {(p.width, p.height) for p in pictures} == {(SIZE, SIZE)}
    for decoded in pictures[::7]:  # the right picture at the right time, in the right colours
        index = round(decoded.time * FPS)
        error = np.abs(decoded.to_ndarray(format="rgb24").astype(int) - bars_image(index))
        assert error.mean() < 8, f"picture {index} at {decoded.time:.2f} s"

    samples = decoded_sound(path)
    assert len(samples) / 48000 == pytest.approx(3.0, abs=0.1)
    assert loudest_frequency(samples[2048:]) == pytest.approx(TONE, abs=2)
    assert np.sqrt(np.mean(samples[2048:] ** 2)) > 0.1  # loud, not silence with a faint tone


def test_an_mkv_holds_h264_and_opus(tmp_path):
    path = tmp_path / "avatar.mkv"
    summary = record(path, 3.0)

    assert (summary.video_frames, summary.audio_frames, summary.saved) == (75, 150, True)
    assert codecs(path) == {"video": "h264", "audio": "opus"}
    assert duration(path) == pytest.approx(3.0, abs=0.3)
    assert len(decoded_pictures(path)) == 75
    assert loudest_frequency(decoded_sound(path)[2048:]) == pytest.approx(TONE, abs=2)


def test_video_only(tmp_path):
    path = tmp_path / "picture.mp4"
    with Recorder(path, audio=False) as recorder:
        feed(recorder, 2.0, audio=False)
        assert recorder.add_audio(sound(0)) is False  # audio is off: not taken, not counted
    summary = recorder.close()

    assert (summary.video_frames, summary.audio_frames, summary.audio_dropped) == (50, 0, 0)
    assert codecs(path) == {"video": "h264"}
    assert duration(path) == pytest.approx(2.0, abs=0.3)


def test_audio_only(tmp_path):
    path = tmp_path / "voice.mp4"
    summary = record(path, 2.0, video=False)

    assert (summary.video_frames, summary.audio_frames) == (0, 100)
    assert codecs(path) == {"audio": "aac"}
    assert duration(path) == pytest.approx(2.0, abs=0.3)
    assert loudest_frequency(decoded_sound(path)[2048:]) == pytest.approx(TONE, abs=2)


def test_the_recorder_leaves_the_callers_frames_alone(tmp_path):
    frames = [picture(0), picture(1)]
    voice = [sound(0), sound(1)]
    with Recorder(tmp_path / "a.mp4") as recorder:
        for video, audio in zip(frames, voice, strict=True):
            recorder.add_video(video)
            recorder.add_audio(audio)

    assert [f.pts for f in frames] == [VIDEO_START, VIDEO_START + VIDEO_TICKS]
    assert [f.pts for f in voice] == [AUDIO_START, AUDIO_START + AUDIO_SAMPLES]
    assert {f.format.name for f in voice} == {"s16"}


# ---------------------------------------------------------------------------------- timing


def test_audio_that_starts_a_second_late_is_a_second_late_in_the_file(tmp_path):
    path = tmp_path / "late.mp4"
    with Recorder(path) as recorder:
        began = time.monotonic()
        feed(recorder, 1.0, audio=False)
        time.sleep(max(0.0, began + 1.0 - time.monotonic()))
        for step in range(50, 150):  # then 2 s of both
            if step % 2 == 0:
                recorder.add_video(picture(step // 2))
            recorder.add_audio(sound(step - 50))
    summary = recorder.close()

    assert (summary.video_frames, summary.audio_frames) == (75, 100)
    assert first_packet_time(path, "video") == pytest.approx(0.0, abs=0.05)
    # The sleep is at least 1 s; a busy machine may add a little.
    assert 0.9 <= first_packet_time(path, "audio") <= 1.6
    assert duration(path) == pytest.approx(3.0, abs=0.6)


def test_rtp_timestamps_that_wrap_around_keep_their_spacing(tmp_path):
    path = tmp_path / "wrap.mp4"
    with Recorder(path) as recorder:  # both clocks wrap about half a second in
        feed(recorder, 3.0, video_start=WRAP - 45_000, audio_start=WRAP - 24_000)
    summary = recorder.close()

    assert (summary.video_frames, summary.audio_frames) == (75, 150)
    assert summary.duration == pytest.approx(3.0, abs=0.1)
    assert duration(path) == pytest.approx(3.0, abs=0.3)
    times = [p.time for p in decoded_pictures(path)]
    assert np.allclose(np.diff(times), 1 / FPS)


def test_frames_whose_pts_do_not_move_forward_are_dropped_and_counted(tmp_path):
    path = tmp_path / "repeats.mp4"
    with Recorder(path) as recorder:
        for index in range(25):
            recorder.add_video(picture(index))
            if index == 10:
                recorder.add_video(picture(index))  # the same timestamp again
                recorder.add_video(picture(index - 3))  # a stray late one
    summary = recorder.close()

    assert (summary.video_frames, summary.video_dropped) == (25, 2)
    assert recorder.stats()["video_bad_pts"] == 2
    assert len(decoded_pictures(path)) == 25


def test_a_restarted_stream_goes_on_after_what_came_before(tmp_path):
    path = tmp_path / "restart.mp4"
    with Recorder(path, audio=False) as recorder:
        for index in range(50):  # after 1 s the sender's clock starts again 10 s earlier
            start = VIDEO_START if index < 25 else VIDEO_START - 900_000
            recorder.add_video(picture(index, start))
    summary = recorder.close()

    assert (summary.video_frames, summary.video_dropped) == (50, 0)
    times = [p.time for p in decoded_pictures(path)]
    assert len(times) == 50 and all(np.diff(times) > 0)


def test_sound_in_another_format_is_converted(tmp_path):
    path = tmp_path / "formats.mp4"
    with Recorder(path, video=False) as recorder:
        for index in range(50):  # 1 s as aiortc gives it, then 1 s of 24 kHz mono floats
            recorder.add_audio(sound(index))
        for index in range(50):
            t = (np.arange(480) + index * 480) / 24000
            wave = np.sin(2 * np.pi * TONE * t).astype(np.float32) * 0.3
            frame = av.AudioFrame.from_ndarray(wave.reshape(1, -1), format="flt", layout="mono")
            frame.sample_rate = 24000
            frame.pts, frame.time_base = 90_000 + index * 480, Fraction(1, 24000)
            recorder.add_audio(frame)
    summary = recorder.close()

    assert (summary.audio_frames, summary.audio_dropped) == (100, 0)
    samples = decoded_sound(path)
    assert len(samples) / 48000 == pytest.approx(2.0, abs=0.1)
    assert loudest_frequency(samples[48000 + 2048 :]) == pytest.approx(TONE, abs=2)


def test_pictures_of_another_size_are_scaled_to_the_first_size(tmp_path):
    path = tmp_path / "sizes.mp4"
    with Recorder(path, audio=False) as recorder:
        for index in range(20):
            recorder.add_video(picture(index, size=SIZE if index < 10 else 256))
    summary = recorder.close()

    assert summary.video_frames == 20
    pictures = decoded_pictures(path)
    assert [(p.width, p.height) for p in pictures] == [(SIZE, SIZE)] * 20
    scaled = pictures[15].to_ndarray(format="rgb24").astype(int)
    assert np.abs(scaled - bars_image(15)).mean() < 12


def test_audio_waits_for_the_first_picture_then_both_are_recorded(tmp_path):
    path = tmp_path / "audio-first.mp4"
    with Recorder(path) as recorder:
        feed(recorder, 0.5, video=False)
        feed(recorder, 2.0, first=25)
    summary = recorder.close()

    assert (summary.video_frames, summary.audio_frames) == (50, 125)
    assert codecs(path) == {"video": "h264", "audio": "aac"}


def test_pictures_after_a_long_stretch_of_audio_alone_are_dropped(tmp_path):
    path = tmp_path / "no-picture.mp4"
    with Recorder(path) as recorder:
        feed(recorder, 1.5, video=False)  # more than VIDEO_WAIT: the file gets no video stream
        feed(recorder, 1.0, first=75)
    summary = recorder.close()

    assert (summary.video_frames, summary.video_dropped) == (0, 25)
    assert summary.audio_frames == 125
    assert codecs(path) == {"audio": "aac"}


# ---------------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("name", ["avatar.avi", "avatar", "avatar.mp4.txt"])
def test_a_file_name_without_mp4_or_mkv_is_refused(tmp_path, name):
    with pytest.raises(nt.InvalidArgument, match=r"\.mp4 or \.mkv") as caught:
        Recorder(tmp_path / name)
    assert isinstance(caught.value, ValueError)
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize(
    "options", [{"video": False, "audio": False}, {"queue_frames": 0}, {"queue_frames": 2.5}]
)
def test_bad_options_are_refused(tmp_path, options):
    with pytest.raises(nt.InvalidArgument):
        Recorder(tmp_path / "a.mp4", **options)


def test_a_frame_of_the_wrong_kind_is_refused(tmp_path):
    with Recorder(tmp_path / "a.mp4") as recorder:
        with pytest.raises(nt.InvalidArgument, match="av.VideoFrame"):
            recorder.add_video(sound(0))
        with pytest.raises(nt.InvalidArgument, match="av.AudioFrame"):
            recorder.add_audio(np.zeros(960, np.int16))
    assert recorder.close().saved is False


def test_an_unwritable_path_fails_at_start(tmp_path):
    missing_folder = Recorder(tmp_path / "no" / "such" / "folder" / "a.mp4")
    with pytest.raises(RecordingError, match="cannot write the recording") as caught:
        missing_folder.start()
    assert isinstance(caught.value, nt.NavTalkError)

    (tmp_path / "taken.mp4").mkdir()
    with pytest.raises(RecordingError, match="taken.mp4"):
        Recorder(tmp_path / "taken.mp4").start()
    assert missing_folder.close().saved is False


# ---------------------------------------------------------------------------------- limits


def test_a_full_queue_drops_and_counts(tmp_path):
    path = tmp_path / "burst.mp4"
    frames = [picture(index) for index in range(200)]
    with Recorder(path, audio=False, queue_frames=2) as recorder:
        taken = [recorder.add_video(frame) for frame in frames]  # far faster than x264
        stats = recorder.stats()
    summary = recorder.close()

    refused = taken.count(False)
    assert refused > 0
    assert stats["video_queue_full"] == stats["video_dropped"] == refused
    assert stats["queue_frames"] == 2 and stats["queue_depth"] <= 2
    assert (summary.video_frames, summary.video_dropped) == (taken.count(True), refused)
    assert len(decoded_pictures(path)) == taken.count(True)


def test_close_with_a_short_timeout_drops_the_backlog_and_still_finishes_the_file(tmp_path):
    path = tmp_path / "backlog.mp4"
    noise = np.random.default_rng(7).integers(0, 256, (100, SIZE * 3 // 2, SIZE), np.uint8)
    frames = []
    for index, image in enumerate(noise):  # noise: the hardest pictures to encode
        frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
        frame.pts, frame.time_base = index * VIDEO_TICKS, Fraction(1, 90000)
        frames.append(frame)
    recorder = Recorder(path, audio=False, queue_frames=100).start()
    for frame in frames:  # 4 s of noise: far more than x264 encodes in 0.05 s
        assert recorder.add_video(frame)
    try:
        summary = recorder.close(timeout=0.05)
    except nt.NavTalkTimeout:  # flushing took longer still: the next close() waits again
        summary = recorder.close(timeout=10)

    assert summary.video_dropped > 0
    assert summary.video_frames + summary.video_dropped == 100
    if summary.saved:
        assert len(decoded_pictures(path)) == summary.video_frames
    else:
        assert not path.exists()


def test_a_disk_error_stops_the_recording_and_comes_from_close(tmp_path, caplog):
    path = tmp_path / "full.mp4"
    os.symlink("/dev/full", path)  # every write fails with "No space left on device"
    recorder = Recorder(path).start()
    for index in range(250):  # 10 s of pictures: far more than one write buffer
        recorder.add_video(picture(index))
        recorder.add_audio(sound(2 * index))
    wait_until(lambda: recorder.stats()["error"] is not None, timeout=10)
    assert recorder.add_video(picture(300)) is False  # the recording has stopped

    with pytest.raises(RecordingError, match="No space left on device") as caught:
        recorder.close()
    assert isinstance(caught.value, nt.NavTalkError)
    assert caught.value.summary is not None and caught.value.summary.path == path
    assert "recording to" in caplog.text and "failed" in caplog.text
    with pytest.raises(RecordingError):  # and again: close() says how the recording ended
        recorder.close()


# ---------------------------------------------------------------------------------- lifecycle


def _recorder_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "navtalk-recorder"]


def test_close_twice_gives_the_same_summary_and_leaves_no_thread(tmp_path):
    recorder = Recorder(tmp_path / "twice.mp4").start()
    assert len(_recorder_threads()) == 1
    feed(recorder, 1.0)

    first = recorder.close()
    assert recorder.close() == first
    assert first.saved and first.video_frames == 25
    assert _recorder_threads() == []
    assert recorder.add_video(picture(30)) is False  # closed: nothing more is taken
    assert recorder.stats()["state"] == "closed"
    with pytest.raises(RecordingError, match="closed"):
        recorder.start()


def test_nothing_recorded_leaves_no_file(tmp_path):
    path = tmp_path / "empty.mp4"
    summary = Recorder(path).start().close()

    assert summary == RecordingSummary(path, 0, 0, 0.0, 0, 0, saved=False)
    assert not path.exists()
    assert Recorder(tmp_path / "never.mkv").close().saved is False  # never started

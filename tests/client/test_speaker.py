"""The speaker against real PyAudio on the virtual ALSA devices of tests/rigs/alsa.py.

Every test plays through ``navtalk_test_speaker`` and reads back what the device recorded
(48 kHz stereo): its frequency, level and duration, as a listener would hear them.
"""

from __future__ import annotations

import threading

import numpy as np
import pyaudio
import pytest

from navtalk_sync.audio import (
    AudioDeviceError,
    Speaker,
    find_input_device,
    find_output_device,
    list_audio_devices,
    supported_rate,
)
from navtalk_sync.audio.devices import close_portaudio, open_portaudio
from navtalk_sync.errors import InvalidArgument, NavTalkError
from tests.helpers import rms, wait_until
from tests.rigs.alsa import MIC, MIC_RATE, SPEAKER, SPEAKER_RATE

AMPLITUDE = 8000


def tone(hz: float, seconds: float, rate: int = 48000, amplitude: int = AMPLITUDE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * amplitude).round().astype(np.int16)


def play_all(speaker: Speaker, pcm, total_ms: float) -> None:
    """Play ``pcm`` and wait until the speaker has written ``total_ms`` of it, then close."""
    speaker.play(pcm)
    wait_until(lambda: speaker.stats()["played_ms"] >= total_ms - 0.5, timeout=20)
    speaker.close()


def voiced(recording: np.ndarray, threshold: int = 200) -> np.ndarray:
    """The recording from its first to its last sound (the speaker pads with silence)."""
    loud = np.flatnonzero(np.abs(recording).max(axis=1) > threshold)
    assert loud.size, "the device recorded only silence"
    return recording[loud[0] : loud[-1] + 1]


def peak_hz(samples: np.ndarray, rate: int = SPEAKER_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def assert_tone(channel: np.ndarray, hz: float, amplitude: float = AMPLITUDE) -> None:
    middle = channel[len(channel) // 10 : -len(channel) // 10]
    assert abs(peak_hz(middle) - hz) < 4
    assert rms(middle) == pytest.approx(amplitude / np.sqrt(2), rel=0.1)


def assert_duration(sound: np.ndarray, seconds: float) -> None:
    assert len(sound) / SPEAKER_RATE == pytest.approx(seconds, abs=0.02)


# -- playback ------------------------------------------------------------------------------


def test_mono_tone_is_played_on_both_channels_at_its_level(alsa_rig):
    speaker = Speaker(SPEAKER, sample_rate=48000, channels=1).start()
    play_all(speaker, tone(440, 0.5), 500)

    sound = voiced(alsa_rig.read_speaker())
    assert_duration(sound, 0.5)
    assert_tone(sound[:, 0], 440)
    assert np.array_equal(sound[:, 0], sound[:, 1])


@pytest.mark.parametrize("form", ["frames", "interleaved", "pyav-packed", "bytes"])
def test_stereo_keeps_left_and_right(alsa_rig, form):
    frames = np.stack([tone(440, 0.5), tone(660, 0.5)], axis=1)
    pcm = {
        "frames": frames,
        "interleaved": frames.reshape(-1),
        "pyav-packed": frames.reshape(1, -1),
        "bytes": frames.astype("<i2").tobytes(),
    }[form]
    speaker = Speaker(SPEAKER, sample_rate=48000, channels=2).start()
    play_all(speaker, pcm, 500)

    sound = voiced(alsa_rig.read_speaker())
    assert_duration(sound, 0.5)
    assert_tone(sound[:, 0], 440)
    assert_tone(sound[:, 1], 660)


@pytest.mark.parametrize(
    ("device_rate", "opened_at"),
    [(None, 24000), (48000, 48000)],
    ids=["device-converts", "pyav-converts"],
)
def test_24khz_input_is_resampled(alsa_rig, device_rate, opened_at):
    speaker = Speaker(SPEAKER, sample_rate=24000, device_rate=device_rate).start()
    assert speaker.stats()["rate"] == opened_at
    play_all(speaker, tone(440, 0.5, rate=24000), 500)

    sound = voiced(alsa_rig.read_speaker())
    assert_duration(sound, 0.5)
    assert_tone(sound[:, 0], 440)


def test_mono_on_a_stereo_stream_is_duplicated_at_full_level(alsa_rig):
    speaker = Speaker(SPEAKER, channels=1, device_channels=2).start()
    assert speaker.stats()["channels"] == 2
    play_all(speaker, tone(440, 0.5), 500)

    sound = voiced(alsa_rig.read_speaker())
    assert_tone(sound[:, 0], 440)
    assert np.array_equal(sound[:, 0], sound[:, 1])


def test_stereo_on_a_mono_stream_is_mixed_down(alsa_rig):
    speaker = Speaker(SPEAKER, channels=2, device_channels=1).start()
    assert speaker.stats()["channels"] == 1
    left_only = np.stack([tone(440, 0.5), np.zeros(24000, np.int16)], axis=1)
    play_all(speaker, left_only, 500)

    sound = voiced(alsa_rig.read_speaker())
    assert_tone(sound[:, 0], 440, amplitude=AMPLITUDE / 2)  # the average of left and right
    assert np.array_equal(sound[:, 0], sound[:, 1])


def test_the_default_device_is_used_for_none_and_true(alsa_rig):
    for device in (None, True):
        speaker = Speaker(device).start()
        assert speaker.stats()["device"] == "default"
        play_all(speaker, tone(440, 0.2), 200)
        assert_tone(voiced(alsa_rig.read_speaker())[:, 0], 440)


def test_audio_shorter_than_the_prebuffer_still_plays(alsa_rig):
    speaker = Speaker(SPEAKER, prebuffer_ms=300).start()
    play_all(speaker, tone(440, 0.1), 100)

    assert_duration(voiced(alsa_rig.read_speaker()), 0.1)


def test_audio_queued_before_start_plays_once_started(alsa_rig):
    speaker = Speaker(SPEAKER)
    speaker.play(tone(440, 0.2))
    assert speaker.stats()["queued_ms"] == pytest.approx(200)
    speaker.start()
    wait_until(lambda: speaker.stats()["played_ms"] >= 200, timeout=20)
    speaker.close()

    assert_tone(voiced(alsa_rig.read_speaker())[:, 0], 440)


def test_running_dry_counts_an_underrun(alsa_rig):
    with Speaker(SPEAKER) as speaker:
        speaker.play(tone(440, 0.1))
        wait_until(lambda: speaker.stats()["underruns"] == 1, timeout=20)
        assert speaker.stats()["played_ms"] == pytest.approx(100)


# -- flush and overflow -----------------------------------------------------------------------


def test_flush_drops_what_is_queued(alsa_rig):
    speaker = Speaker(SPEAKER, queue_seconds=5).start()
    speaker.play(tone(440, 4.0))
    speaker.flush()
    after_flush = speaker.stats()
    assert after_flush["flushes"] == 1
    assert after_flush["queued_ms"] == 0
    assert after_flush["underruns"] == 0
    speaker.play(tone(660, 0.3))

    def accounted_ms() -> float:
        stats = speaker.stats()
        return stats["played_ms"] + stats["flushed_ms"]

    # Every millisecond is either played or flushed, and far more was flushed than played.
    wait_until(lambda: accounted_ms() >= 4300 - 0.5, timeout=20)
    speaker.close()
    assert accounted_ms() == pytest.approx(4300)
    assert speaker.stats()["flushed_ms"] > 2000
    sound = voiced(alsa_rig.read_speaker())
    assert len(sound) / SPEAKER_RATE < 2.3
    assert_tone(sound[-int(0.25 * SPEAKER_RATE) :, 0], 660)


def test_overflow_drops_the_oldest_audio_and_counts_it(alsa_rig):
    speaker = Speaker(SPEAKER, queue_seconds=0.5).start()
    speaker.play(np.concatenate([tone(440, 0.5), tone(660, 0.5)]))
    assert speaker.stats()["dropped_ms"] == pytest.approx(500)
    wait_until(lambda: speaker.stats()["played_ms"] >= 500, timeout=20)
    speaker.close()

    assert speaker.stats()["played_ms"] == pytest.approx(500)
    sound = voiced(alsa_rig.read_speaker())
    assert_duration(sound, 0.5)
    assert_tone(sound[:, 0], 660)


def test_overflow_is_logged_at_debug(alsa_rig, caplog):
    speaker = Speaker(SPEAKER, queue_seconds=0.1)
    speaker.play(tone(440, 0.3))
    speaker.close()
    assert "dropped the oldest 200 ms" in caplog.text


# -- bad input and devices ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "pcm",
    [
        np.zeros(960, np.float32),
        np.zeros((480, 3), np.int16),
        np.zeros(961, np.int16),
        b"\x00" * 6,
        [0, 1, 2, 3],
    ],
    ids=["float", "three-channels", "half-a-frame", "odd-bytes", "list"],
)
def test_bad_pcm_is_refused_and_queued_audio_kept(pcm):
    speaker = Speaker(SPEAKER, channels=2)
    speaker.play(np.zeros((480, 2), np.int16))
    with pytest.raises(InvalidArgument):
        speaker.play(pcm)
    assert speaker.stats()["queued_ms"] == pytest.approx(10)
    speaker.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"channels": 3},
        {"sample_rate": 0},
        {"sample_rate": 44100.0},
        {"queue_seconds": 0},
        {"prebuffer_ms": 3000},
        {"device": 1.5},
        {"device": False},
        {"device_channels": 6},
    ],
)
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(InvalidArgument):
        Speaker(**kwargs)


def test_unknown_device_is_refused_with_the_output_devices_listed(alsa_rig):
    speaker = Speaker("no such speaker")
    with pytest.raises(InvalidArgument) as refused:
        speaker.start()
    message = str(refused.value)
    assert "no such speaker" in message
    assert SPEAKER in message
    assert MIC not in message  # an input-only device is no choice for output
    speaker.close()


def test_a_device_that_refuses_the_format_fails_start(alsa_rig):
    speaker = Speaker(SPEAKER, device_rate=1000)
    with pytest.raises(AudioDeviceError, match="1000 Hz"):
        speaker.start()
    speaker.close()


def test_list_audio_devices_shows_the_virtual_devices(alsa_rig):
    devices = {d.name: d for d in list_audio_devices()}
    speaker, mic = devices[SPEAKER], devices[MIC]
    assert speaker.host_api == "ALSA"
    assert speaker.is_output and not speaker.is_input
    assert mic.is_input and not mic.is_output
    assert devices["default"].is_output and devices["default"].is_input


def test_find_device_by_index_name_and_part_of_a_name(alsa_rig):
    pa = open_portaudio()
    try:
        index = find_output_device(pa, SPEAKER)
        assert pa.get_device_info_by_index(index)["name"] == SPEAKER
        assert find_output_device(pa, "TEST_SPEAKER") == index
        assert find_output_device(pa, index) == index
        assert find_output_device(pa, "default") != index  # an exact name beats a part
        mic = find_input_device(pa, "mic")
        assert pa.get_device_info_by_index(mic)["name"] == MIC
        with pytest.raises(InvalidArgument, match="several"):
            find_output_device(pa, "a")  # in navtalk_test_speaker and in default
        with pytest.raises(InvalidArgument, match=SPEAKER):
            find_output_device(pa, mic)
    finally:
        close_portaudio(pa)


def test_supported_rate_falls_back_to_the_device_default(alsa_rig):
    pa = open_portaudio()
    try:
        index = find_output_device(pa, SPEAKER)
        assert supported_rate(pa, index, 2, preferred=22050) == 22050
        assert supported_rate(pa, index, 2, preferred=1_000_000) == 48000
    finally:
        close_portaudio(pa)


# -- lifecycle ----------------------------------------------------------------------------------


def speaker_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "navtalk-speaker"]


def test_close_is_idempotent_and_leaves_no_thread(alsa_rig):
    speaker = Speaker(SPEAKER).start()
    assert speaker.start() is speaker
    assert len(speaker_threads()) == 1
    speaker.close()
    speaker.close()
    assert speaker_threads() == []
    speaker.play(tone(440, 0.1))  # ignored once closed
    assert speaker.stats()["queued_ms"] == 0
    with pytest.raises(NavTalkError, match="closed"):
        speaker.start()


def test_close_from_another_thread_and_before_start(alsa_rig):
    Speaker(SPEAKER).close()
    speaker = Speaker(SPEAKER).start()
    speaker.play(tone(440, 1.0))
    closer = threading.Thread(target=speaker.close, name="test-closer")
    closer.start()
    closer.join(5)
    assert not closer.is_alive()
    assert speaker_threads() == []


# -- the test rig's microphone (for the capture code to come) ----------------------------------


def test_the_virtual_microphone_delivers_its_file_then_silence(alsa_rig):
    alsa_rig.write_mic(tone(440, 0.5), pad_seconds=1.0)
    pa = open_portaudio()
    try:
        stream = pa.open(
            format=pyaudio.paInt16,
            channels=1,
            rate=MIC_RATE,
            input=True,
            input_device_index=find_input_device(pa, MIC),
        )
        captured = np.frombuffer(stream.read(MIC_RATE, exception_on_overflow=False), np.int16)
        stream.close()
    finally:
        close_portaudio(pa)

    half = MIC_RATE // 2
    assert np.array_equal(captured[:half], tone(440, 0.5))
    assert not captured[half:].any()

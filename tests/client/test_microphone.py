"""The microphone against real PyAudio: exact content from the ALSA file microphone of
tests/rigs/alsa.py, real-time streaming from the private PulseAudio daemon of tests/rigs/pulse.py.

Every test reads what the sink received (24 kHz mono int16) and checks it as a listener would:
its pitch, its level, how much of it there is.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

import navtalk_sync as nt
from navtalk_sync.audio.microphone import SEND_RATE, Microphone
from navtalk_sync.errors import InvalidArgument, NavTalkError
from tests.helpers import client_for, rms, wait_until
from tests.rigs import alsa
from tests.rigs.alsa import MIC, MIC_RATE, PACED_INPUT, RAW_INPUT, RAW_INPUT_RATE

AMPLITUDE = 8000


def tone(hz: float, seconds: float, rate: int = MIC_RATE) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (np.sin(2 * np.pi * hz * t) * AMPLITUDE).round().astype(np.int16)


class Collector:
    """A sink that keeps every chunk, with the time it arrived."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.lock = threading.Lock()

    def __call__(self, pcm: np.ndarray) -> None:
        assert pcm.dtype == np.int16 and pcm.ndim == 1
        with self.lock:
            self.chunks.append(pcm.copy())

    def audio(self) -> np.ndarray:
        with self.lock:
            return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)

    def seconds(self) -> float:
        return len(self.audio()) / SEND_RATE


def voiced(samples: np.ndarray, threshold: int = 200) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > threshold)
    assert loud.size, "the sink received only silence"
    return samples[loud[0] : loud[-1] + 1]


def peak_hz(samples: np.ndarray, rate: int = SEND_RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def assert_tone(sound: np.ndarray, hz: float = 440) -> None:
    middle = sound[len(sound) // 10 : -len(sound) // 10]
    assert abs(peak_hz(middle) - hz) < 4
    assert rms(middle) == pytest.approx(AMPLITUDE / np.sqrt(2), rel=0.1)


# -- exact content: the ALSA file microphone ------------------------------------------------


def test_a_tone_arrives_as_24khz_mono_at_its_pitch_level_and_length(alsa_rig):
    alsa_rig.write_mic(tone(440, 0.5), pad_seconds=1.0)
    sink = Collector()
    with Microphone(sink, MIC) as mic:
        wait_until(lambda: sink.seconds() >= 1.2, timeout=20)
        assert mic.stats()["rate"] == MIC_RATE and mic.stats()["channels"] == 1

    sound = voiced(sink.audio())
    assert len(sound) / SEND_RATE == pytest.approx(0.5, abs=0.01)
    assert_tone(sound)


def test_the_device_is_found_by_index_and_by_part_of_its_name(alsa_rig):
    alsa_rig.write_mic(tone(440, 0.3))
    from navtalk_sync.audio.devices import close_portaudio, find_input_device, open_portaudio

    pa = open_portaudio()
    try:
        index = find_input_device(pa, MIC)
    finally:
        close_portaudio(pa)
    for spec in (index, "TEST_MIC"):
        sink = Collector()
        with Microphone(sink, spec) as mic:
            wait_until(lambda sink=sink: sink.seconds() >= 0.4, timeout=20)
            assert mic.stats()["device"] == MIC
        assert_tone(voiced(sink.audio()))


def test_an_unknown_device_is_refused_with_the_input_devices_listed(alsa_rig):
    mic = Microphone(Collector(), "no such microphone")
    with pytest.raises(InvalidArgument, match=f"available input devices:.*{MIC}"):
        mic.start()
    mic.close()
    with pytest.raises(InvalidArgument, match="input device with index 9999"):
        Microphone(Collector(), 9999).start()


@pytest.mark.parametrize(
    "kwargs",
    [{"device": False}, {"device": 1.5}, {"chunk_ms": 0}, {"device_rate": 12}, {"sink": 3}],
)
def test_bad_arguments_are_refused_at_construction(kwargs):
    kwargs = {"sink": Collector(), **kwargs}
    with pytest.raises(InvalidArgument):
        Microphone(**kwargs)


def test_a_device_that_refuses_48khz_is_opened_at_a_rate_it_takes(alsa_rig):
    alsa_rig.write_mic(tone(440, 0.5, rate=RAW_INPUT_RATE))
    sink = Collector()
    with Microphone(sink, RAW_INPUT) as mic:
        wait_until(lambda: sink.seconds() >= 0.6, timeout=20)
        assert mic.stats()["rate"] == RAW_INPUT_RATE
    # the device reads the file at 44.1 kHz, so the tone is 440 Hz at that rate
    assert_tone(voiced(sink.audio()))


def test_muted_sends_silence_of_the_same_length(alsa_rig):
    alsa_rig.write_mic(tone(440, 3.0))
    sink = Collector()
    mic = Microphone(sink, MIC, muted=True).start()
    try:
        wait_until(lambda: sink.seconds() >= 0.5, timeout=20)
        assert not np.any(sink.audio()), "a muted microphone sent sound"
        mic.unmute()
        heard_from = len(sink.audio())
        wait_until(lambda: len(sink.audio()) >= heard_from + SEND_RATE // 2, timeout=20)
        assert_tone(voiced(sink.audio()[heard_from + SEND_RATE // 20 :]))
        mic.mute()
        muted_from = len(sink.audio()) + SEND_RATE // 20
        wait_until(lambda: len(sink.audio()) >= muted_from + SEND_RATE // 4, timeout=20)
        assert not np.any(sink.audio()[muted_from:])
    finally:
        mic.close()
    stats = mic.stats()
    assert stats["muted"] and stats["muted_ms"] >= 700
    # silence is sent at the device's pace: as much is sent as was captured
    assert stats["sent_ms"] == pytest.approx(stats["captured_ms"], abs=25)


def test_a_sink_that_raises_is_counted_and_capture_goes_on(alsa_rig, caplog):
    alsa_rig.write_mic(tone(440, 0.5))
    calls = []

    def failing(pcm: np.ndarray) -> None:
        calls.append(len(pcm))
        raise RuntimeError("uplink gone")

    with Microphone(failing, MIC) as mic:
        wait_until(lambda: len(calls) >= 5, timeout=20)
    assert mic.stats()["sink_errors"] >= 5
    assert "uplink gone" in caplog.text


def test_close_is_idempotent_and_start_after_close_is_refused(alsa_rig):
    mic = Microphone(Collector(), MIC).start()
    mic.close()
    mic.close()
    assert not [t for t in threading.enumerate() if t.name == "navtalk-mic"]
    with pytest.raises(NavTalkError, match="closed"):
        mic.start()


# -- real-time streaming: the PulseAudio daemon ---------------------------------------------


def test_a_played_tone_streams_from_a_paced_device(pulse_rig):
    sink = Collector()
    with Microphone(sink, PACED_INPUT) as mic:
        started = time.monotonic()
        player = pulse_rig.play(tone(440, 1.5))
        assert player.wait(timeout=20) == 0
        wait_until(lambda: voiced_seconds(sink.audio()) >= 1.4, timeout=20)
        elapsed = time.monotonic() - started
        stats = mic.stats()
    assert_tone(voiced(sink.audio()))
    # paced: about as much audio as wall time, never the burst an unpaced device gives
    assert sink.seconds() < elapsed + 1.0
    assert stats["overflows"] == 0


def voiced_seconds(samples: np.ndarray) -> float:
    loud = np.flatnonzero(np.abs(samples) > 200)
    return (loud[-1] - loud[0]) / SEND_RATE if loud.size else 0.0


def test_a_blocking_sink_is_counted_as_overflow_not_raised(pulse_rig):
    blocked = threading.Event()
    sink = Collector()

    def slow(pcm: np.ndarray) -> None:
        sink(pcm)
        if not blocked.is_set() and len(sink.chunks) == 10:
            blocked.set()
            time.sleep(1.0)  # far longer than the device's buffer

    with Microphone(slow, PACED_INPUT) as mic:
        wait_until(lambda: blocked.is_set(), timeout=20)
        before = sink.seconds()
        wait_until(lambda: sink.seconds() >= before + 0.5, timeout=20)
        stats = mic.stats()
    assert stats["overflows"] >= 1
    assert stats["error"] is None


def test_close_while_reading_a_paced_device_returns_promptly(pulse_rig):
    sink = Collector()
    mic = Microphone(sink, PACED_INPUT, chunk_ms=100).start()
    wait_until(lambda: len(sink.chunks) >= 2, timeout=20)
    mic.close(timeout=5)
    assert not [t for t in threading.enumerate() if t.name == "navtalk-mic"]
    assert mic.stats()["error"] is None


def test_rig_device_names_keep_partial_lookups_unambiguous():
    for name in (alsa.PACED_INPUT, alsa.RAW_INPUT):
        assert "mic" not in name and "speaker" not in name


def test_stop_microphone_racing_close_raises_nothing(make_server, alsa_rig):
    alsa_rig.clear_mic(pad_seconds=30.0)
    server = make_server()
    for _ in range(5):
        client = client_for(server, media=False)
        client.connect(timeout=10)
        client.start_microphone(device=alsa.MIC)
        errors: list[BaseException] = []

        def stop(client: nt.NavTalkClient = client, errors: list[BaseException] = errors) -> None:
            try:
                client.stop_microphone(timeout=2)
            except BaseException as exc:  # reported below
                errors.append(exc)

        stopper = threading.Thread(target=stop, name="test-stopper")
        stopper.start()
        client.close(timeout=2)
        stopper.join(10)
        assert not errors and not stopper.is_alive()

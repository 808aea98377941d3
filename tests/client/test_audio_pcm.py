"""Uplink conversion and chunking (protocol.md#audio-format), with the real PyAV resampler."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from navtalk_sync.audio.pcm import (
    Chunker,
    Converter,
    float_to_pcm16,
    pcm16_to_float,
    silence,
    to_float_frames,
)
from navtalk_sync.errors import InvalidArgument

pytestmark = pytest.mark.timeout(30)


def tone(frequency: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def convert_all(converter: Converter, audio, rate: int, piece: int, **kw) -> np.ndarray:
    parts = [
        converter.convert(audio[i : i + piece], rate, **kw) for i in range(0, len(audio), piece)
    ]
    return np.concatenate([*parts, converter.finish()])


def aligned_error(out: np.ndarray, reference: np.ndarray, max_delay: int = 64) -> tuple[int, float]:
    """The delay (samples) at which ``out`` best matches ``reference``, and the max error there
    over the middle of the signal (ends are excluded: the resampler's filter ramps there)."""
    body = slice(200, len(reference) - 200)
    errors = [np.abs(out[d:][body] - reference[body]).max() for d in range(max_delay)]
    best = int(np.argmin(errors))
    return best, float(errors[best])


def test_24k_mono_int16_bytes_pass_through_unchanged():
    samples = np.array([0, 1, -1, 32767, -32768, 1234], dtype="<i2")
    out = Converter().convert(samples.tobytes(), 24_000)
    assert out.tolist() == samples.tolist()


def test_float32_48k_stereo_matches_the_tone_at_24k():
    left = tone(440, 48_000, 1.0)
    stereo = np.stack([left, left], axis=1)
    out = convert_all(Converter(), stereo, 48_000, 3072)
    assert len(out) == 24_000  # exactly the same duration
    reference = tone(440, 24_000, 1.0)
    delay, error = aligned_error(pcm16_to_float(out), reference)
    assert delay < 48  # the resampler adds at most ~2 ms
    assert error < 2e-3  # int16 rounding plus filter ripple


def test_channels_are_averaged():
    rng = np.random.default_rng(1)
    left, right = rng.uniform(-1, 1, 480).astype(np.float32), np.zeros(480, np.float32)
    out = Converter().convert(np.stack([left, right], axis=1), 24_000)
    assert np.array_equal(out, float_to_pcm16(left / 2))


def test_interleaved_1d_with_channels():
    frames = np.array([[100, -100], [200, 0], [0, 0]], dtype=np.int16)
    out = Converter().convert(frames.reshape(-1), 24_000, channels=2)
    assert out.tolist() == [0, 100, 0]


def test_no_aliasing_of_a_tone_above_the_new_nyquist():
    # a 15 kHz tone cannot exist at 24 kHz: a band-limited resampler removes it, where a
    # plain interpolation would fold it to 9 kHz at full level
    out = convert_all(Converter(), tone(15_000, 48_000, 1.0), 48_000, 3072)
    rms = np.sqrt(np.mean(pcm16_to_float(out[200:-200]) ** 2))
    assert rms < 0.01 * (0.5 / np.sqrt(2))


def test_piece_borders_make_no_clicks():
    audio = tone(1000, 44_100, 1.0)
    whole = convert_all(Converter(), audio, 44_100, len(audio))
    pieces = convert_all(Converter(), audio, 44_100, 441)  # 10 ms pieces
    assert len(whole) == len(pieces) == 24_000
    assert np.abs(whole.astype(int) - pieces.astype(int)).max() <= 2


@pytest.mark.parametrize("rate", [8_000, 16_000, 22_050, 44_100, 48_000, 96_000])
def test_duration_is_kept(rate):
    frames = rate * 2 + 7
    audio = np.random.default_rng(rate).uniform(-0.5, 0.5, frames).astype(np.float32)
    out = convert_all(Converter(), audio, rate, 1000)
    assert abs(len(out) - frames * 24_000 / rate) <= 1


def test_a_rate_change_starts_a_new_resampler():
    converter = Converter()
    first = len(converter.convert(tone(300, 48_000, 0.5), 48_000))
    second = len(converter.convert(tone(300, 16_000, 0.5), 16_000))
    rest = len(converter.finish())
    assert first + second + rest == 24_000


def test_float_scaling_and_clamping_follow_the_browsers():
    values = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0], dtype=np.float64)
    assert float_to_pcm16(values).tolist() == [-32768, -32768, -16384, 0, 16384, 32767, 32767]
    out = Converter().convert(values.astype(np.float32), 24_000)
    assert out.tolist() == [-32768, -32768, -16384, 0, 16384, 32767, 32767]


def test_int16_round_trip_through_float_is_exact():
    samples = np.arange(-32768, 32768, dtype=np.int16)
    assert np.array_equal(float_to_pcm16(pcm16_to_float(samples)), samples)


def test_int32_and_uint8_scaling():
    int32 = np.array([-(2**31), 0, 2**30], dtype=np.int32)
    assert Converter().convert(int32, 24_000).tolist() == [-32768, 0, 16384]
    uint8 = np.array([0, 128, 192], dtype=np.uint8)
    assert Converter().convert(uint8, 24_000).tolist() == [-32768, 0, 16384]


@pytest.mark.parametrize(
    ("audio", "kw", "words"),
    [
        (np.array([0.1, np.nan], dtype=np.float32), {}, "NaN"),
        (np.array([0.1, np.inf]), {}, "infinite"),
        (np.zeros(4, dtype=np.int64), {}, "int64"),
        (np.zeros(4, dtype=np.complex64), {}, "dtype"),
        (np.zeros(4, dtype=bool), {}, "dtype"),
        (np.zeros((2, 2, 2), dtype=np.int16), {}, "1-D or 2-D"),
        (np.zeros((2, 48_000), dtype=np.float32), {}, "transpose"),
        (np.zeros((10, 2), dtype=np.float32), {"channels": 1}, "channels=1"),
        (np.zeros(5, dtype=np.int16), {"channels": 2}, "divide"),
        (b"\x00\x01\x02", {}, "even"),
        ([0.1, 0.2], {}, "numpy array"),
        (np.zeros(4, np.int16), {"channels": 0}, "channels"),
        (np.zeros(4, np.int16), {"sample_rate": 0}, "sample_rate"),
        (np.zeros(4, np.int16), {"sample_rate": 44100.0}, "sample_rate"),
    ],
)
def test_bad_input_is_refused_clearly(audio, kw, words):
    rate = kw.pop("sample_rate", 24_000)
    with pytest.raises(InvalidArgument, match=words) as info:
        Converter().convert(audio, rate, **kw)
    assert isinstance(info.value, ValueError)


def test_bad_input_leaves_the_stream_usable():
    converter = Converter()
    first = converter.convert(tone(500, 48_000, 0.25), 48_000)
    with pytest.raises(InvalidArgument):
        converter.convert(np.array([np.nan], np.float32), 48_000)
    second = converter.convert(tone(500, 48_000, 0.25)[:0], 48_000)
    assert len(first) > 0 and len(second) == 0
    assert len(first) + len(converter.finish()) == 6000


def test_to_float_frames_shapes():
    assert to_float_frames(np.zeros(6, np.int16)).shape == (6, 1)
    assert to_float_frames(np.zeros(6, np.int16), channels=3).shape == (2, 3)
    assert to_float_frames(np.zeros((6, 2), np.float64)).dtype == np.float32


# ------------------------------------------------------------------ chunking


def test_default_pieces_are_4096_base64_characters():
    chunker = Chunker()
    samples = np.arange(1536 * 3 + 100, dtype=np.int16)
    pieces = chunker.push(samples)
    assert [len(base64.b64encode(p)) for p in pieces] == [4096, 4096, 4096]
    assert chunker.pending == 100
    tail = chunker.flush()
    assert tail is not None and len(tail) == 200
    assert chunker.flush() is None
    joined = np.frombuffer(b"".join([*pieces, tail]), dtype="<i2")
    assert np.array_equal(joined, samples)  # nothing reordered or lost


def test_remainders_carry_over_between_pushes():
    chunker = Chunker(100)
    out = []
    for start in range(0, 1000, 37):
        out += chunker.push(np.arange(start, min(start + 37, 1000), dtype=np.int16))
    assert chunker.flush() is None  # 1000 samples are ten whole pieces
    assert [len(p) for p in out] == [200] * 10
    assert np.array_equal(np.frombuffer(b"".join(out), "<i2"), np.arange(1000))


@pytest.mark.parametrize("size", [0, -5, 1.5, True])
def test_chunk_size_must_be_a_positive_integer(size):
    with pytest.raises(InvalidArgument):
        Chunker(size)


def test_silence():
    assert len(silence(0.35)) == 8400 and not silence(0.35).any()
    for bad in (-1, float("nan"), "1", 10_000):
        with pytest.raises(InvalidArgument):
            silence(bad)

"""The user's audio, end to end: client -> real socket -> the local server's journal.

What the server received (``realtime.input_audio_buffer.append`` frames, base64 in
``data.audio``) is decoded and compared with an independent reference: the same tone computed
analytically at 24 kHz.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
import wave
from pathlib import Path

import av
import numpy as np
import pytest

import navtalk_sync as nt
from navtalk_sync.server import Faults
from tests.helpers import client_for, wait_until

pytestmark = pytest.mark.timeout(60)

APPEND = "realtime.input_audio_buffer.append"


def tone(rate: int, seconds: float, frequency: float = 440.0, amplitude: float = 0.4):
    t = np.arange(round(rate * seconds)) / rate
    return amplitude * np.sin(2 * np.pi * frequency * t)


def received_pcm(server, count: int | None = None, timeout: float = 20.0) -> np.ndarray:
    """The samples the server received, once ``count`` appends arrived (or the queue settled)."""
    if count is not None:
        wait_until(lambda: len(server.messages(APPEND)) >= count, timeout)
    pieces = [
        base64.b64decode(m.message["data"]["audio"], validate=True) for m in server.messages(APPEND)
    ]
    return np.frombuffer(b"".join(pieces), dtype="<i2")


def pieces_expected(samples: int, chunk: int = 1536) -> int:
    return -(-samples // chunk)


def assert_matches(received: np.ndarray, reference: np.ndarray, tolerance: float) -> None:
    """Same length, and equal to the reference within ``tolerance`` (of full scale) once the
    resampler's delay (under 2 ms) is allowed for; the first and last 10 ms are left out."""
    assert len(received) == len(reference)
    got = received.astype(np.float64) / 32768
    body = slice(240, len(reference) - 240)
    errors = [np.abs(got[d:][body] - reference[body]).max() for d in range(48)]
    assert min(errors) < tolerance, f"max error {min(errors):.4f}"


def connected(server, **kw) -> nt.NavTalkClient:
    kw.setdefault("media", False)
    client = client_for(server, **kw)
    client.connect(timeout=10)
    return client


# ------------------------------------------------------------------ the wire form


def test_send_audio_float32_48k_stereo(server):
    left = tone(48_000, 2.0).astype(np.float32)
    with connected(server) as client:
        client.send_audio(np.stack([left, left], axis=1), sample_rate=48_000)
        client.wait_audio_sent(10)
        appends = server.wait_for_message(APPEND, timeout=5) and None
        pcm = received_pcm(server, pieces_expected(48_000))
    assert_matches(pcm, tone(24_000, 2.0), tolerance=2e-3)

    texts = [m.message["data"]["audio"] for m in server.messages(APPEND)]
    assert appends is None and all(m.valid for m in server.messages(APPEND))
    assert [len(t) for t in texts[:-1]] == [4096] * (len(texts) - 1)  # 1536 samples each
    assert 0 < len(texts[-1]) <= 4096  # a shorter tail
    for text in texts:
        assert base64.b64encode(base64.b64decode(text, validate=True)).decode() == text


def test_chunk_size_is_configurable(server):
    with connected(server, audio_chunk_samples=480) as client:
        client.send_audio(np.zeros(1000, np.int16).tobytes())
        client.wait_audio_sent(10)
        pcm = received_pcm(server, 3)
    sizes = [len(base64.b64decode(m.message["data"]["audio"])) for m in server.messages(APPEND)]
    assert sizes == [960, 960, 80] and len(pcm) == 1000


def test_send_file_wav_44k1_stereo(server, tmp_path):
    path = tmp_path / "tone.wav"
    samples = np.rint(tone(44_100, 1.5) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:  # written by the standard library, not PyAV
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44_100)
        out.writeframes(np.stack([samples, samples], axis=1).tobytes())
    with connected(server) as client:
        seconds = client.send_file(path, realtime=False)
        client.wait_audio_sent(10)
        pcm = received_pcm(server, pieces_expected(36_000))
    assert seconds == pytest.approx(1.5)
    assert_matches(pcm, tone(24_000, 1.5), tolerance=2e-3)


def write_mp3(path: Path, seconds: float) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libmp3lame", rate=44_100, layout="mono")
        samples = tone(44_100, seconds).astype(np.float32)
        size = 1152
        for start in range(0, len(samples), size):
            piece = samples[start : start + size]
            frame = av.AudioFrame.from_ndarray(piece[None, :], format="flt", layout="mono")
            frame.sample_rate, frame.pts = 44_100, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_send_file_mp3(server, tmp_path):
    path = tmp_path / "tone.mp3"
    write_mp3(path, 2.0)
    with connected(server) as client:
        seconds = client.send_file(str(path), realtime=False)
        client.wait_audio_sent(10)
    pcm = received_pcm(server)
    # MP3 frames pad the ends a little (encoder delay and the last frame): 2.0 s +- 60 ms
    assert abs(seconds - 2.0) < 0.06 and abs(len(pcm) - 48_000) < 0.06 * 24_000
    # lossy, so compare where the tone is steady: its level and its pitch
    middle = pcm[6_000:42_000].astype(np.float64) / 32768
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.4 / np.sqrt(2), rel=0.05)
    spectrum = np.abs(np.fft.rfft(middle))
    assert np.fft.rfftfreq(len(middle), 1 / 24_000)[np.argmax(spectrum)] == pytest.approx(
        440, abs=2
    )


def test_send_file_in_real_time_sends_it_all(server, tmp_path):
    path = tmp_path / "short.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(np.rint(tone(16_000, 0.5) * 32767).astype("<i2").tobytes())
    with connected(server) as client:
        client.send_file(path)  # realtime=True by default
        client.wait_audio_sent(10)
        pcm = received_pcm(server, pieces_expected(12_000))
    assert_matches(pcm, tone(24_000, 0.5), tolerance=2e-3)


def test_send_silence(server):
    with connected(server) as client:
        client.send_silence(0.25)
        client.wait_audio_sent(10)
        pcm = received_pcm(server, pieces_expected(6_000))
    assert len(pcm) == 6_000 and not pcm.any()


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("audio", "words"),
    [
        (np.array([0.0, np.nan], np.float32), "NaN"),
        (np.zeros(8, np.int64), "dtype"),
        (np.zeros((4, 4, 4), np.int16), "1-D or 2-D"),
        ("hello", "numpy array"),
    ],
)
def test_bad_audio_is_refused_and_queued_audio_still_goes(server, audio, words):
    with connected(server) as client:
        stream = client.audio_stream("mine")
        stream.write(np.full(2000, 1000, np.int16))  # one piece queued, 464 samples held
        with pytest.raises(nt.InvalidArgument, match=words):
            client.send_audio(audio)
        with pytest.raises(ValueError):
            stream.write(audio)
        stream.write(np.full(1000, 2000, np.int16))
        stream.flush()
        client.wait_audio_sent(10)
        pcm = received_pcm(server, 2)
    assert pcm.tolist() == [1000] * 2000 + [2000] * 1000


def test_bad_files_are_refused(server, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not audio at all")
    with connected(server) as client:
        with pytest.raises(nt.InvalidArgument, match="no such audio file"):
            client.send_file(tmp_path / "missing.wav")
        with pytest.raises(nt.InvalidArgument, match="not an audio file"):
            client.send_file(text)
        with pytest.raises(nt.InvalidArgument):
            client.send_file(12)
        for bad in (-1.0, float("nan")):
            with pytest.raises(nt.InvalidArgument):
                client.send_silence(bad)
    assert server.messages(APPEND) == []


def test_no_session_no_audio(server):
    client = client_for(server, media=False)
    with pytest.raises(nt.NotConnected):
        client.send_audio(np.zeros(10, np.int16))
    client.connect(timeout=10)
    client.close()
    with pytest.raises(nt.NotConnected):
        client.send_audio(np.zeros(10, np.int16))


# ------------------------------------------------------------------ the gate


def test_audio_before_session_updated_waits_for_it(server):
    with client_for(server, media=False) as client:
        stream = client.audio_stream()
        stream.write(np.arange(3000, dtype=np.int16), block=False)  # before connect(): held
        assert client.stats()["audio_queue_depth"] == 1
        client.connect(timeout=10)
        stream.flush()
        client.wait_audio_sent(10)
        pcm = received_pcm(server, 2)
    assert pcm.tolist() == list(range(3000))


@pytest.fixture
def unreachable_media_server(make_server):
    # ICE never connects: with audio_wait_for_media the gate stays shut
    return make_server(faults=Faults(offer_unreachable=True))


def test_wait_for_media_holds_audio_and_the_hold_is_bounded(unreachable_media_server):
    server = unreachable_media_server
    client = client_for(
        server, audio_wait_for_media=True, audio_hold_seconds=0.5, send_timeout=0.5,
        ice_host_addresses=["127.0.0.1"],
    )  # fmt: skip
    with client:
        client.connect(timeout=10)
        assert client.state == "session_ready"
        client.send_audio(np.zeros(6000, np.int16))  # 0.25 s: fits in the hold
        assert client.stats()["audio_queue_depth"] == 4
        with pytest.raises(nt.NavTalkTimeout, match="audio queue"):
            client.send_audio(np.zeros(24_000, np.int16))  # 1 s does not
        stream = client.audio_stream("mic")
        stream.write(np.zeros(48_000, np.int16), block=False)  # never blocks: drops the oldest
        stats = client.stats()
        assert stats["audio_chunks_dropped"] > 0
        assert stats["audio_queue_depth"] == 8  # ceil(0.5 s / 64 ms)
        time.sleep(0.3)
        assert server.messages(APPEND) == []
    assert client.stats()["audio_chunks_discarded"] == 8


def test_wait_for_media_sends_once_live(server):
    with client_for(server, media=True, audio_wait_for_media=True) as client:
        client.connect(timeout=10)
        client.send_audio(np.full(3000, 7, np.int16))
        wait_until(lambda: client.state == "live", timeout=15)
        client.wait_audio_sent(10)
        pcm = received_pcm(server, 2)
    assert pcm.tolist() == [7] * 3000


def test_audio_wait_for_media_needs_media():
    with pytest.raises(nt.ConfigError, match="audio_wait_for_media"):
        nt.NavTalkClient("k", avatar_name="a", media=False, audio_wait_for_media=True)


# ------------------------------------------------------------------ a slow socket


class StallingRelay:
    """A TCP relay on 127.0.0.1 that stops reading the client's bytes from ``stall()`` until
    ``resume()`` (a stalled uplink). A throttled relay is not enough: loopback's socket buffers
    absorb many seconds of audio at any rate, and only sometimes back up the client's queue."""

    def __init__(self, target_port: int) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        # a small window, set before the handshake that announces it: less for a stall to hide
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.port = self._listener.getsockname()[1]
        self._target = target_port
        self._flowing = threading.Event()
        self._flowing.set()
        self._sockets: list[socket.socket] = [self._listener]
        self._threads: list[threading.Thread] = []
        self._accept = threading.Thread(target=self._run, name="test-relay", daemon=True)
        self._accept.start()

    def _run(self) -> None:
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        upstream = socket.create_connection(("127.0.0.1", self._target))
        self._sockets += [client, upstream]
        for source, sink, slow in ((client, upstream, True), (upstream, client, False)):
            thread = threading.Thread(target=self._pipe, args=(source, sink, slow), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _pipe(self, source: socket.socket, sink: socket.socket, slow: bool) -> None:
        try:
            while (not slow or self._flowing.wait(30)) and (data := source.recv(65536)):
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._flowing.set()
        for s in self._sockets:
            s.close()
        for thread in [self._accept, *self._threads]:
            thread.join(5)


def test_nothing_is_reordered_or_lost_behind_a_stalled_socket(server):
    relay = StallingRelay(server.port)
    try:
        url = server.url.replace(f":{server.port}", f":{relay.port}")
        client = nt.NavTalkClient(
            server.license, url=url, avatar_name="navtalk.Leo", media=False,
            send_queue_size=2, send_timeout=30, audio_hold_seconds=1.0,
            ping_interval=None,  # a ping waits behind the audio: no pong while it is stalled
        )  # fmt: skip
        with client:
            client.connect(timeout=10)
            # up to 90 s of audio: more than the socket buffers on both sides can hold
            samples = (np.arange(24_000 * 90) % 20_000).astype(np.int16)
            written = []
            backed_up = threading.Event()

            def write() -> None:
                stream = client.audio_stream()
                for start in range(0, len(samples), 24_000):
                    if backed_up.is_set():
                        break
                    piece = samples[start : start + 24_000]
                    for at in range(0, len(piece), 1000):
                        stream.write(piece[at : at + 1000])
                    written.append(piece)
                stream.flush()

            relay.stall()
            writer = threading.Thread(target=write, name="test-writer")
            writer.start()
            wait_until(lambda: client.stats()["audio_queue_depth"] > 2, 30)  # it backs up
            backed_up.set()
            relay.resume()
            writer.join(60)
            assert not writer.is_alive()
            client.wait_audio_sent(60)
            sent = np.concatenate(written)
            pcm = received_pcm(server, pieces_expected(len(sent)), timeout=60)
        assert np.array_equal(pcm, sent)
    finally:
        relay.close()


# ------------------------------------------------------------------ transparency mode


def test_transparency_commit_and_clear(server):
    with connected(server, model="transparency") as client:
        client.send_audio(np.full(2000, 5, np.int16))
        client.commit_audio()  # 350 ms of zeros, then commit, after the audio
        client.send_audio(np.full(100, 9, np.int16))
        client.wait_audio_sent(10)  # clear_audio() also drops audio still queued here
        client.clear_audio()
        client.wait_audio_sent(10)
        server.wait_for_message("realtime.input_audio_buffer.clear", timeout=5)
    types = [m.type for m in server.received if m.type.startswith("realtime.input_audio")]
    commit = types.index("realtime.input_audio_buffer.commit")
    assert types[-1] == "realtime.input_audio_buffer.clear"
    before = server.messages(APPEND)[:commit]
    pcm = np.frombuffer(
        b"".join(base64.b64decode(m.message["data"]["audio"]) for m in before), "<i2"
    )
    assert pcm.tolist() == [5] * 2000 + [0] * 8400
    after = server.messages(APPEND)[len(before) :]
    assert [base64.b64decode(m.message["data"]["audio"]) for m in after] == [b"\x09\x00" * 100]
    for m in server.messages():
        if m.type.endswith(("commit", "clear")):
            assert m.message["data"] == {} and m.valid


def test_close_ends_a_paced_send_file(server, tmp_path):
    path = tmp_path / "long.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(24_000)
        out.writeframes(np.zeros(24_000 * 30, "<i2").tobytes())  # 30 s
    client = connected(server)
    outcome: list[BaseException] = []

    def send() -> None:
        try:
            client.send_file(path, realtime=True)
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    sender = threading.Thread(target=send, name="test-sender")
    sender.start()
    server.wait_for_message(APPEND, timeout=10)
    client.close()
    sender.join(10)
    assert not sender.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], nt.NotConnected)
    assert 0 < len(server.messages(APPEND)) < 30 * 24_000 // 1536

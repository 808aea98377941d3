"""Whatever a caller passes to the public API, it works or says clearly why not.

Hypothesis draws each method's arguments from what careless callers pass: ``None``, bools,
``inf``/NaN/huge numbers, digits by the thousand, empty and NUL-laden strings, bytes, lists,
dicts, odd objects, callables that raise anything, numpy arrays of any dtype and shape, paths
to FIFOs, devices, directories and nowhere. For every call the property is the same:

* it returns, or raises a ``NavTalkError`` (``InvalidArgument``/``ConfigError`` for bad
  input): never another exception type;
* it returns within its timeout (when it takes one and the value is valid), else at once;
* no thread of the client dies (an uncaught exception in any thread fails the suite too, see
  setup.cfg).

``NAVTALK_FUZZ_EXAMPLES`` raises the number of cases, as for tests/client/test_fuzz.py.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import navtalk_sync as nt
from navtalk_sync import events as ev

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.filterwarnings("ignore:.*is not a known NavTalk event type"),
]

EXAMPLES = int(os.environ.get("NAVTALK_FUZZ_EXAMPLES", "0") or 0) or 120
CASES = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

#: A call that takes longer than its valid timeout plus this is a hang.
SLACK = 2.0
#: Valid timeouts drawn are this short, so that waiting them out stays cheap.
SHORT = 0.2


class Weird:
    """An object no API expects."""

    def __repr__(self) -> str:
        return "<Weird>"


def _raises(error: BaseException) -> Callable[..., Any]:
    def callback(*args: Any) -> Any:
        raise error

    return callback


# fmt: off
NUMBERS = st.sampled_from([
    0, -1, 1, 2, 10**400, float("nan"), float("inf"), -float("inf"), 1e10, 604_801, -0.0,
    1e-300, 48000, 24000, 2**31, True, False,
])
TEXTS = st.sampled_from([
    "", " ", "*", "hello", "\x00", "a\x00b", "é" * 3, "x" * 10_000, "9" * 5000, "\ud800",
    "client.nope", "realtime.session.updated", "ws://[::1", "sk_navtalk_abc",
])
CALLABLES = st.sampled_from([
    print, lambda *a: None, _raises(SystemExit(1)), _raises(KeyboardInterrupt()),
    _raises(ValueError("x")), lambda *a: Weird(), lambda *a: "not an image",
])
ARRAYS = st.sampled_from([
    np.zeros(0, np.int16), np.zeros(480, np.int16), np.full(480, np.nan, np.float32),
    np.zeros((4, 4, 3), np.uint8), np.zeros((2, 2, 2, 2)), np.array(["a"]),
    np.zeros(480, np.complex64), np.zeros((10, 70000), np.int16),
])
ODDS = st.sampled_from([None, Weird(), [], [1], {}, {"a": 1}, b"", b"x", (), object])
#: Paths to read from (never written to: some are the machine's devices).
READ_PATHS = st.sampled_from([
    "/dev/zero", "/dev/null", "/", "/nonexistent/x.png", "a\x00b.png", "", "/proc/self/status",
    "x.png",
])
#: Paths to write to: relative ones land in the test's scratch folder.
WRITE_PATHS = st.sampled_from([
    "x.png", "x.mkv", "x.json", "a\x00b.mp4", "", "/nonexistent/x.png", ".", "pipe.png", "sub",
])
# fmt: on
PATHS = st.one_of(READ_PATHS, WRITE_PATHS)
ANYTHING = st.one_of(NUMBERS, TEXTS, CALLABLES, ARRAYS, ODDS, PATHS)
#: Timeouts: short valid ones (waiting them out must stay cheap) and every kind of bad one.
BAD_SECONDS = st.sampled_from(
    [0, -1, -0.0, 10**400, float("nan"), float("inf"), -float("inf"), 1e10, 604_801, True, False]
)
TIMEOUTS = st.one_of(st.floats(0.01, SHORT), BAD_SECONDS, TEXTS, ODDS)
SELECTORS = st.one_of(
    st.sampled_from(["*", ev.ResponseTranscriptDone, ev.Event, int, ["*"], ("*", "client.state")]),
    TEXTS,
    ODDS,
    NUMBERS,
)


def valid_timeout(value: Any) -> float | None:
    """The seconds a call may wait, when ``value`` is a timeout it should accept."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0 < value <= nt.timeouts.MAX_SECONDS else None


@pytest.fixture(autouse=True)
def scratch(tmp_path, monkeypatch):
    """Relative paths land here; ``pipe.png`` is a FIFO and ``sub`` a folder."""
    monkeypatch.chdir(tmp_path)
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "sub").mkdir()
    return tmp_path


@pytest.fixture
def live(make_server):
    """One connected client for every case of a test (cases run one after another)."""
    server = make_server()
    client = nt.NavTalkClient(
        server.license, avatar_name="navtalk.Leo", url=server.url, media=False,
        send_timeout=SEND_TIMEOUT,
    )  # fmt: skip
    client.connect(timeout=10)
    yield client
    client.close()


#: The live client's send_timeout: how long a send may wait for room in a queue.
SEND_TIMEOUT = 1.0


def client_threads() -> set[threading.Thread]:
    return {
        t
        for t in threading.enumerate()
        if t.name.startswith("navtalk-") and not t.name.startswith("navtalk-local-server")
    }


def check_call(call: Callable[[], Any], timeout: Any = None) -> None:
    """The property: returns or raises a NavTalkError, in time, and no thread dies."""
    before = {t for t in client_threads() if t.name in LONG_LIVED}
    allowed = valid_timeout(timeout) or 0.0
    started = time.monotonic()
    try:
        call()
    except nt.NavTalkError:
        pass
    took = time.monotonic() - started
    assert took <= allowed + SLACK, f"took {took:.2f} s (timeout {timeout!r})"
    dead = [t.name for t in before if not t.is_alive()]
    assert not dead, f"threads died: {dead}"


#: The threads of a connected client that must live as long as it does.
LONG_LIVED = {"navtalk-ws-reader", "navtalk-ws-writer", "navtalk-dispatch", "navtalk-uplink"}


# ------------------------------------------------------------------ events


@CASES
@given(what=SELECTORS, timeout=TIMEOUTS, predicate=st.one_of(st.none(), CALLABLES, ODDS))
def test_wait_for(live, what, timeout, predicate):
    check_call(lambda: live.wait_for(what, timeout, predicate), timeout)


@CASES
# None is get()'s "until an event or the end", which may rightly be never here
@given(
    what=SELECTORS,
    maxsize=st.one_of(NUMBERS, ODDS, TEXTS),
    timeout=TIMEOUTS.filter(lambda t: t is not None),
)
def test_events_and_get(live, what, maxsize, timeout):
    def call() -> None:
        with live.events(what, maxsize) as subscription:
            subscription.get(timeout)

    check_call(call, timeout)


@CASES
@given(what=SELECTORS, callback=st.one_of(CALLABLES, ODDS, NUMBERS))
def test_on_and_off(live, what, callback):
    def call() -> None:
        try:
            handle = live.on(what, callback)
        finally:
            live.off(callback) if callable(callback) else None
        live.off(handle)

    check_call(call)
    check_call(lambda: live.off(callback))


# ------------------------------------------------------------------ talking


@CASES
@given(text=st.one_of(TEXTS, ODDS, NUMBERS), flag=st.one_of(st.booleans(), ODDS, TEXTS))
def test_send_text_and_message(live, text, flag):
    check_call(lambda: live.send_text(text, flag), SEND_TIMEOUT)
    check_call(lambda: live.send_message({"type": text}), SEND_TIMEOUT)
    check_call(lambda: live.send_message(text), SEND_TIMEOUT)


@CASES
@given(text=st.one_of(TEXTS, ODDS), timeout=TIMEOUTS)
def test_ask(live, text, timeout):
    check_call(lambda: live.ask(text, timeout), timeout)


@CASES
@given(
    samples=st.one_of(ARRAYS, ODDS, TEXTS),
    rate=NUMBERS,
    channels=st.one_of(NUMBERS, ODDS),
    timeout=TIMEOUTS,
)
def test_send_audio_and_streams(live, samples, rate, channels, timeout):
    check_call(lambda: live.send_audio(samples, rate, channels), SEND_TIMEOUT)
    stream = live.audio_stream()
    check_call(lambda: stream.write(samples, rate, channels, block=channels), SEND_TIMEOUT)
    check_call(lambda: live.send_silence(rate), SEND_TIMEOUT)
    check_call(lambda: live.commit_audio(rate), SEND_TIMEOUT)
    check_call(lambda: live.wait_audio_sent(timeout), timeout)


@CASES
@given(image=st.one_of(ARRAYS, ODDS, PATHS, TEXTS), reply=st.one_of(st.booleans(), ODDS))
def test_send_image(live, image, reply):
    check_call(lambda: live.send_image(image, reply), SEND_TIMEOUT)
    check_call(lambda: live.send_image("pipe.png"), SEND_TIMEOUT)


@CASES
@given(source=st.one_of(CALLABLES, ODDS), interval=TIMEOUTS, timeout=TIMEOUTS)
def test_image_feed(live, source, interval, timeout):
    check_call(lambda: live.start_image_feed(source, interval))
    check_call(lambda: live.stop_image_feed(timeout), timeout)
    live.stop_image_feed(5)


@CASES
@given(fn=st.one_of(CALLABLES, ODDS), grace=TIMEOUTS, timeout=TIMEOUTS)
def test_quiet_and_after_reply(live, fn, grace, timeout):
    check_call(lambda: live.wait_until_quiet(grace, timeout), timeout)
    check_call(lambda: live.after_reply(fn, grace, timeout))


@CASES
@given(path=st.one_of(PATHS, ODDS, NUMBERS), timeout=TIMEOUTS)
def test_media_calls_without_media(live, path, timeout):  # media=False: NotConnected
    check_call(lambda: live.record(path))
    check_call(lambda: live.stop_recording(timeout))
    check_call(lambda: live.wait_for_video(timeout))
    check_call(lambda: live.on_video_frame(path))


@CASES
@given(device=st.one_of(ODDS, NUMBERS, TEXTS), rate=st.one_of(NUMBERS, ODDS), timeout=TIMEOUTS)
def test_microphone(live, device, rate, timeout, alsa_rig):
    check_call(lambda: live.start_microphone(device, device_rate=rate))
    check_call(lambda: live.stop_microphone(timeout), timeout)
    live.stop_microphone(5)


# ------------------------------------------------------------------ before connect()


SETTINGS = [
    "avatar_id", "avatar_name", "url", "voice", "prompt", "tools", "history",
    "history_max_turns", "greet_first", "model", "connect_timeout", "send_timeout",
    "close_timeout", "ping_interval", "ping_timeout", "event_queue_size", "send_queue_size",
    "max_message_size", "reconnect", "media", "speaker", "record", "ice_host_addresses",
    "stun_fallback", "media_timeout", "stall_timeout", "mouth_region", "media_required",
    "audio_chunk_samples", "audio_hold_seconds", "audio_wait_for_media", "half_duplex",
    "ca_file", "ssl_context", "proxy",
]  # fmt: skip


#: Licences: bad ones, and valid ones no other test's text contains (a valid licence stays
#: redacted for the rest of the process: "hello" as a licence would hide every "hello").
LICENCES = st.one_of(
    st.sampled_from(["", " ", "\x00", "a\x00b", "\ud800", "sk_test_property_0123456789"]),
    ODDS,
)


@CASES
@given(
    license=LICENCES,
    setting=st.sampled_from(SETTINGS),
    value=ANYTHING,
)
def test_settings(license, setting, value):
    options = {"avatar_name": "navtalk.Leo", "url": "ws://127.0.0.1:9", setting: value}
    check_call(lambda: nt.NavTalkClient(license, **options))


@CASES
@given(field=st.sampled_from([f.name for f in nt.ReconnectPolicy.__attrs_attrs__]), value=ANYTHING)
def test_reconnect_policy(field, value):
    check_call(lambda: nt.ReconnectPolicy(**{field: value}))


@CASES
@given(name=st.one_of(TEXTS, ODDS), timeout=TIMEOUTS, auto_reply=ANYTHING, hint=ANYTHING)
def test_add_tool(name, timeout, auto_reply, hint):
    client = nt.NavTalkClient("sk_test_x", avatar_name="a", url="ws://127.0.0.1:9")

    def tool(x):  # its annotation is drawn
        return x

    tool.__annotations__ = {"x": hint}
    check_call(lambda: client.add_tool(tool, name=name, timeout=timeout, auto_reply=auto_reply))
    check_call(lambda: client.add_tool(tool, parameters=hint))


@CASES
@given(
    write_to=st.one_of(WRITE_PATHS, ODDS, NUMBERS),
    read_from=st.one_of(READ_PATHS, WRITE_PATHS, ODDS),
    text=st.one_of(TEXTS, ODDS),
)
def test_history_files_and_frames(write_to, read_from, text):
    history = nt.History()
    history.add("user", "text", "hello")
    check_call(lambda: history.save(write_to))
    check_call(lambda: nt.History.load(read_from))
    check_call(lambda: nt.History.load(write_to))
    check_call(lambda: nt.History.from_json(text))
    check_call(lambda: nt.History(text))
    check_call(lambda: history.add("user", "text", "x", at=text))
    frame = nt.VideoFrame(np.zeros((4, 4, 3), np.uint8), 0.0, 0.0, 0)
    check_call(lambda: frame.save(write_to))
    assert os.path.exists("pipe.png") and os.path.isdir("sub")  # neither replaced


@CASES
@given(
    name=st.one_of(TEXTS, ODDS),
    base_url=st.one_of(
        TEXTS, ODDS, st.sampled_from(["http://u:p@127.0.0.1:9/x", "http://127.0.0.1:9/api"])
    ),
    timeout=TIMEOUTS,
)
def test_get_avatar(name, base_url, timeout):
    check_call(lambda: nt.get_avatar("sk_test_x", name=name, base_url=base_url, timeout=timeout),
               min(valid_timeout(timeout) or 0, SHORT))  # fmt: skip

"""Bad input is refused at once with an error that names the argument and what it accepts.

Each case here was once accepted, or refused with an error from deep inside (a ``TypeError``
about iteration, a ``SyntaxError`` from ``typing``, a bare ``ValueError`` from ``urllib``), or
hung. ``tests/client/test_api_properties.py`` draws many more shapes; these are the ones to read.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

import navtalk_sync as nt

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def client() -> Iterator[nt.NavTalkClient]:
    """A client that is never connected: every check here comes before the network."""
    with nt.NavTalkClient("sk_test_123456", avatar_name="a", url="ws://127.0.0.1:1") as client:
        yield client


SELECTOR = "select events with '\\*', an event type name or an Event class"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.wait_for(None, timeout=0.1),
        lambda c: c.wait_for(b"x", timeout=0.1),
        lambda c: c.events(5),
        lambda c: c.events([]),
        lambda c: c.on(None, print),
    ],
    ids=["wait_for(None)", "wait_for(b'x')", "events(5)", "events([])", "on(None)"],
)
def test_an_event_selector_that_selects_nothing_is_refused(client, call):
    with pytest.raises(nt.InvalidArgument, match=SELECTOR):
        call(client)


def listed(x: [int]) -> str:  # type: ignore[valid-type]  # the mistake under test
    """A list where a type belongs."""
    return ""


def expression(x: "1+") -> str:  # type: ignore[name-defined]  # noqa: F722
    """Not an expression."""
    return ""


def missing(x: "typing.Nope") -> str:  # type: ignore[name-defined]  # noqa: F821, UP037
    """A name that does not exist."""
    return ""


async def coroutine(x: int) -> str:
    """Async."""
    return ""


def generator(x: int):  # type: ignore[no-untyped-def]
    """A generator."""
    yield ""


@pytest.mark.parametrize(
    ("tool", "says"),
    [
        (listed, "tool 'listed', parameter 'x': .* is not a type; use str, int"),
        (expression, "tool 'expression': cannot read its type hints .*; annotate with str"),
        (missing, "tool 'missing': cannot read its type hints .*; annotate with str"),
        (coroutine, "tool 'coroutine' is an async function; .* pass a plain function"),
        (generator, "tool 'generator' is a generator function; a tool returns its result"),
        (dict, "tool 'dict': cannot read its signature .*; pass parameters=..."),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_a_tool_that_cannot_be_called_as_declared_is_refused_at_add_tool(client, tool, says):
    with pytest.raises(nt.InvalidArgument, match=says):
        client.add_tool(tool)
    assert client.tools == ()


@pytest.mark.parametrize(
    ("setting", "says"),
    [
        ({"url": "ws://[::1"}, "url must be a ws:// or wss:// URL"),
        ({"record": "a\0b.mp4"}, "record must not contain a NUL character"),
        ({"media": "no"}, "media must be True, False or an nt.MediaOptions, got 'no'"),
    ],
    ids=lambda v: next(iter(v)) if isinstance(v, dict) else "",
)
def test_a_setting_that_means_something_else_is_refused(setting, says):
    with pytest.raises(nt.ConfigError, match=says):
        nt.NavTalkClient("sk_test_123456", avatar_name="a", **setting)


def test_a_nan_grace_is_refused_rather_than_waited_out(client):
    with pytest.raises(nt.InvalidArgument, match="grace must be a number of seconds"):
        client.wait_until_quiet(float("nan"), 1)


def test_a_nul_in_an_image_path_is_refused(client):
    with pytest.raises(nt.InvalidArgument, match="must not contain a NUL character"):
        client.send_image("a\0b.png")


def test_an_image_path_that_is_a_device_is_refused_without_reading_it(client):
    with pytest.raises(nt.InvalidArgument, match="not a regular file"):
        client.send_image("/dev/zero")  # read to the end, it would never end


def test_an_image_path_that_is_a_fifo_is_refused_without_waiting_for_a_writer(client, tmp_path):
    fifo = tmp_path / "camera.png"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def send() -> None:
        try:
            client.send_image(fifo)
            outcome.append(None)
        except BaseException as exc:  # reported below
            outcome.append(exc)

    sender = threading.Thread(target=send, name="test-send-image", daemon=True)
    sender.start()
    sender.join(10)
    if sender.is_alive():  # let the blocked open() go before failing
        with open(fifo, "wb"):
            pass
        pytest.fail("send_image() on a FIFO waited for a writer")
    assert isinstance(outcome[0], nt.InvalidArgument)
    assert "not a regular file" in str(outcome[0])


def test_an_image_file_past_the_limit_is_refused_without_reading_it_all(client, tmp_path):
    from navtalk_sync.images import MAX_INPUT_BYTES

    big = tmp_path / "big.png"
    with open(big, "wb") as file:
        file.truncate(MAX_INPUT_BYTES * 4)  # sparse: costs no disk
    with pytest.raises(nt.InvalidArgument, match="too large"):
        client.send_image(big)

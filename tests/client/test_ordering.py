"""A blocking call that returns because event E arrived returns after every ``on()`` callback
for E, and for every event before E, has returned: a script that collects events in a
callback and reads them after ``connect()``, ``wait_for()``, ``ask()`` or a subscription's
``get()`` finds them all there."""

from __future__ import annotations

import threading
import time

import pytest

import navtalk_sync as nt
from navtalk_sync import events as ev
from tests.helpers import client_for

RUNS = 10


def slow_collector(seen: list[ev.Event]):
    """A callback as scripts write them: it keeps what it sees and takes a moment (printing)."""

    def collect(event: ev.Event) -> None:
        time.sleep(0.003)
        seen.append(event)

    return collect


def test_connect_returns_after_the_callbacks_saw_session_updated(server):
    for _ in range(RUNS):
        seen: list[ev.Event] = []
        with client_for(server, media=False) as client:
            client.on("*", slow_collector(seen))
            client.connect(timeout=10)
            assert any(isinstance(e, ev.SessionUpdated) for e in seen)


def test_wait_for_and_ask_return_after_the_callbacks_saw_their_event(server):
    with client_for(server, media=False) as client:
        seen: list[ev.Event] = []
        client.on("*", slow_collector(seen))
        client.connect(timeout=10)
        for run in range(RUNS):
            client.send_text(f"question {run}")
            done = client.wait_for(ev.ResponseAudioDone, timeout=10)
            assert done in seen
            reply = client.ask(f"and {run}?", timeout=10)
            texts = [e for e in seen if isinstance(e, ev.ResponseTranscriptDone)]
            assert texts and texts[-1].text == reply


def test_a_subscription_hands_over_an_event_after_its_callbacks(server):
    with client_for(server, media=False) as client:
        seen: list[ev.Event] = []
        client.on("*", slow_collector(seen))
        client.connect(timeout=10)
        with client.events(ev.ResponseTranscriptDelta) as deltas:
            client.send_text("a question with a long enough answer")
            for _ in range(3):
                assert deltas.get(timeout=10) in seen


def test_a_callback_slower_than_the_timeout_gives_a_timeout_and_keeps_the_event(server):
    release = threading.Event()
    with client_for(server, media=False) as client:
        client.on(ev.ResponseAudioDone, lambda event: release.wait(10))
        client.connect(timeout=10)
        with client.events(ev.ResponseAudioDone) as done:
            client.send_text("hello")
            with pytest.raises(nt.NavTalkTimeout, match="on\\(\\) callbacks for"):
                done.get(timeout=2)  # the event is here; its callback has not returned
            release.set()
            assert isinstance(done.get(timeout=10), ev.ResponseAudioDone)  # kept for later


def test_inside_a_callback_a_blocking_call_does_not_wait_for_the_dispatcher(server):
    answers: list[str] = []
    with client_for(server, media=False) as client:

        @client.on(ev.SessionUpdated)
        def ask_from_the_callback(event: ev.Event) -> None:
            answers.append(client.ask("from a callback", timeout=10))

        client.connect(timeout=15)  # returns once that callback, ask() and all, has returned
        assert answers == ["You said: from a callback."]

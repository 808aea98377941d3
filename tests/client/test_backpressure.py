"""Back-pressure: bounded queues, a callback that blocks, and what stats() says about them."""

from __future__ import annotations

import threading
import time

import pytest

from navtalk_sync import events as ev
from tests.helpers import client_for, wait_until

pytestmark = pytest.mark.timeout(60)


def test_a_blocked_callback_does_not_stop_the_reader(server):
    """While one callback blocks, the reader goes on: the server's pings are answered and our
    pongs are read. A waiter in another thread has its reply in hand but returns only once the
    callbacks for it have run (the order docs/guides/sessions.md promises); afterwards every
    callback has seen every event, in order."""
    release = threading.Event()
    seen: list[str] = []
    with client_for(server, media=False, ping_interval=0.2, ping_timeout=1.0) as client:

        @client.on("*")
        def record(event):
            seen.append(event.type)

        @client.on(ev.ResponseTranscriptDelta)
        def blocked(event):
            client.off(blocked)
            release.wait(20)

        client.connect(timeout=10)
        pongs = client.stats()["pongs_received"]
        replies: list[str] = []
        asking = threading.Thread(target=lambda: replies.append(client.ask("hold on", 15)))
        asking.start()
        wait_until(lambda: client.stats()["dispatch_queue_depth"] > 0, timeout=10)
        server.ping(timeout=5)  # the server's ping is answered, the callback still blocked
        time.sleep(1.0)  # a few keepalive rounds of our own
        stats = client.stats()
        assert stats["pongs_received"] > pongs
        assert stats["dispatch_reader_waits"] == 0  # the reader never had to wait
        assert client.state == "session_ready" and client.error is None
        assert not replies  # its reply's callbacks have not run yet
        release.set()
        asking.join(15)
        assert replies == ["You said: hold on."]
        assert "realtime.response.audio.done" in seen  # ask() returned after the callbacks
    reply_events = [t for t in seen if t.startswith("realtime.response")]
    assert reply_events[0] == "realtime.response.audio_transcript.delta"
    assert reply_events[-1] == "realtime.response.audio.done"
    assert "realtime.response.audio_transcript.done" in reply_events


def test_a_full_dispatch_queue_pauses_the_reader_and_loses_nothing(server, caplog):
    release = threading.Event()
    deltas: list[str] = []
    with client_for(server, media=False, event_queue_size=3) as client:

        @client.on(ev.ResponseTranscriptDelta)
        def slow(event):
            if not deltas:
                release.wait(3)  # long enough for the reader to fill the queue behind it
            deltas.append(event.text)

        client.connect(timeout=10)
        with client.events((ev.ResponseTranscriptDone, ev.ResponseAudioDone)) as replies:
            client.send_text("one two three four five six seven eight nine ten")
            done = replies.get(timeout=20)
            replies.get(timeout=20)
        stats = client.stats()
    assert "".join(deltas) == done.text  # every delta reached the callback, in order
    assert stats["dispatch_reader_waits"] >= 1
    assert stats["dispatch_queue_max_depth"] <= 3 + 2  # the bound (+ client-made events)
    assert any("the reader pauses" in r.getMessage() and "slow" in r.getMessage()
               for r in caplog.records)  # fmt: skip

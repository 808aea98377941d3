"""Hand events to another part of your app: a callback forwards them into a queue that a plain
worker thread of yours consumes.

    python examples/worker.py

Runs against the local server (no licence needed). This is the shape of an integration with an
app that already has its own worker (a CRM logger, a call-centre queue, a job runner): the
library's callback only forwards, and never waits, so the client's dispatcher is never held up
by your app.

The queue is bounded. When it is full the forwarder drops the event and counts it (chosen here
because a late log line is worth less than a responsive client); to lose nothing instead,
``events.put(event, timeout=...)`` makes the dispatcher wait for your worker, which holds back
later callbacks (not the socket: see "Where your code runs" in docs/guides/reliability.md).
"""

import queue
import threading

import navtalk_sync as nt
from navtalk_sync.events import Disconnected, ResponseTranscriptDone, StateChanged
from navtalk_sync.server import LocalServer

events: queue.Queue = queue.Queue(maxsize=100)  # bounded: a stuck worker cannot eat memory
STOP = object()  # the sentinel that tells the worker to finish
dropped = 0


def forward(event: nt.Event) -> None:
    """Runs on the library's dispatcher thread: hand the event over and return at once."""
    global dropped
    try:
        events.put_nowait(event)
    except queue.Full:
        dropped += 1  # overflow policy: drop the newest event, count it


def work() -> None:
    """Your app's side, on its own thread: takes events until the sentinel comes."""
    while (event := events.get()) is not STOP:
        if isinstance(event, StateChanged):
            print(f"worker: state {event.previous} -> {event.state}")
        elif isinstance(event, ResponseTranscriptDone):
            print(f"worker: the avatar said {event.text!r}")
        elif isinstance(event, Disconnected):
            print("worker: the session ended")
    print("worker: stopped")


worker = threading.Thread(target=work, name="app-worker")
worker.start()
try:
    with (
        LocalServer() as server,
        # media=False: this app wants the conversation's events, not the avatar's picture
        nt.NavTalkClient(
            server.license, avatar_name="navtalk.Leo", url=server.url, media=False
        ) as client,
    ):
        client.on("*", forward)  # every event, in arrival order
        client.connect(timeout=10)
        client.ask("What can you do?", timeout=10)
    # the client is closed: no more callbacks, so nothing can follow the sentinel
finally:
    events.put(STOP)  # blocking put: the worker is draining, so there will be room
    worker.join()
print(f"dropped {dropped} event(s)")

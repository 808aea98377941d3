"""``navtalk-sync demo``: a short text conversation, by default with the bundled local server
(no licence needed), showing what happens as it happens."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import Any

from .. import NavTalkClient, events
from .common import EXIT_OK, looks_like_id, ms

DEMO_LINES = (
    "Hello!",
    "What can you do?",
    "Is breakfast included?",
)


def register(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="a short text conversation (local server by default)",
        description="Hold a short text conversation and show every step. Without --license "
        "(or NAVTALK_LICENSE) it starts the bundled local server first.",
        epilog="examples:\n  navtalk-sync demo\n"
        "  NAVTALK_LICENSE=sk_navtalk_... navtalk-sync demo --avatar navtalk.Leo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--license", help="use the hosted service with this licence")
    demo.add_argument("--avatar", default="navtalk.Leo", help="avatar name or 32-hex id")
    demo.add_argument("--url", help="endpoint override (self-hosted or a running local server)")
    demo.add_argument("--timeout", type=float, default=30.0, help="seconds per step")
    demo.add_argument("line", nargs="*", help="what to say (default: three sample lines)")
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    license = args.license or os.environ.get("NAVTALK_LICENSE")
    if license and not args.url:
        print(f"navtalk-sync demo: the hosted service, avatar {args.avatar}")
        return _converse(args, license, url=None)
    from ..server import LocalServer  # the client itself never imports the server

    with LocalServer() as server:
        print(f"navtalk-sync demo: local NavTalk-compatible server at {server.url}")
        print("(no licence needed; the local server answers with a small rule brain)\n")
        return _converse(args, server.license, url=args.url or server.url)


def _converse(args: argparse.Namespace, license: str, url: str | None) -> int:
    avatar = (
        {"avatar_id": args.avatar} if looks_like_id(args.avatar) else {"avatar_name": args.avatar}
    )
    options = {"url": url} if url else {}
    lines = args.line or list(DEMO_LINES)
    printer = _LivePrinter()
    started = time.monotonic()
    with NavTalkClient(license, **avatar, **options) as client:
        printer.attach(client)
        client.connect(timeout=args.timeout)
        print(f"connected: session {client.session_id} in {ms(time.monotonic() - started)}\n")
        latencies = []
        for line in lines:
            print(f"you:    {line}")
            printer.begin_reply()
            asked = time.monotonic()
            reply = client.ask(line, timeout=args.timeout)
            latencies.append(time.monotonic() - asked)
            printer.end_reply(reply)
        stats = client.stats()
    print(
        f"\n{len(lines)} turns; reply time mean {ms(sum(latencies) / len(latencies))}, "
        f"max {ms(max(latencies))}; {stats['events_received']} events received, "
        f"{stats['frames_sent']} frames sent"
    )
    return EXIT_OK


class _LivePrinter:
    """Shows state changes and the reply as it streams in (callbacks on the dispatcher)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._streaming = False

    def attach(self, client: NavTalkClient) -> None:
        client.on("client.state", self._state)
        client.on(events.ResponseTranscriptDelta, self._delta)
        client.on(events.ConnectedWarning, self._warning)
        client.on(events.ResponseTranscriptDone, lambda event: self._done.set())

    def _state(self, event: events.Event) -> None:
        assert isinstance(event, events.StateChanged)
        print(
            f"  [state] {event.previous} -> {event.state}"
            + (f" ({event.reason})" if event.reason else "")
        )

    def _warning(self, event: events.Event) -> None:
        print(f"  [warning] {getattr(event, 'message', '')}")

    def _delta(self, event: events.Event) -> None:
        assert isinstance(event, events.ResponseTranscriptDelta)
        with self._lock:
            if not self._streaming:
                sys.stdout.write("avatar: ")
                self._streaming = True
            sys.stdout.write(event.text)
            sys.stdout.flush()

    def begin_reply(self) -> None:
        with self._lock:
            self._streaming = False
            self._done.clear()

    def end_reply(self, reply: str) -> None:
        # ask() returns as soon as the reply arrives; its callbacks (the printing) run on the
        # dispatcher, in order, the done callback last.
        self._done.wait(5.0)
        with self._lock:
            if not self._streaming:
                sys.stdout.write(f"avatar: {reply}")
            sys.stdout.write("\n\n")
            sys.stdout.flush()

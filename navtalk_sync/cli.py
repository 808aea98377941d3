"""The ``navtalk-sync`` command: ``demo`` and ``serve``.

``demo`` holds a short text conversation, by default with the bundled local server (no licence
needed), and shows what happens as it happens. ``serve`` runs the local server.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from typing import Sequence

from . import NavTalkClient, NavTalkError, events

DEMO_LINES = (
    "Hello!",
    "What can you do?",
    "Is breakfast included?",
)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CONNECT = 0, 1, 2, 3


def console() -> None:
    """The ``navtalk-sync`` entry point."""
    if hasattr(signal, "SIGPIPE"):
        # `navtalk-sync demo | head` should end quietly, as Unix tools do.
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv``; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(threadName)s %(name)s %(levelname)s: %(message)s",
    )
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        return 130
    except NavTalkError as exc:  # texts are already redacted
        print(f"navtalk-sync: {exc}", file=sys.stderr)
        return EXIT_CONNECT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="navtalk-sync",
        description="Talk to a NavTalk digital human from the terminal.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    commands = parser.add_subparsers(dest="command", required=True)

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

    serve = commands.add_parser(
        "serve",
        help="run the local NavTalk-compatible server",
        description="Run the bundled NavTalk-compatible server on loopback until Ctrl-C.",
        epilog="example:\n  navtalk-sync serve --port 8765",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")
    serve.add_argument("--license", help="licence clients must present (default: a fresh one)")
    serve.set_defaults(run=run_serve)
    return parser


# ------------------------------------------------------------------ demo


def run_demo(args: argparse.Namespace) -> int:
    license = args.license or os.environ.get("NAVTALK_LICENSE")
    if license and not args.url:
        print(f"navtalk-sync demo: the hosted service, avatar {args.avatar}")
        return _converse(args, license, url=None)
    from .server import LocalServer  # the client itself never imports the server

    with LocalServer() as server:
        print(f"navtalk-sync demo: local NavTalk-compatible server at {server.url}")
        print("(no licence needed; the local server answers with a small rule brain)\n")
        return _converse(args, server.license, url=args.url or server.url)


def _converse(args: argparse.Namespace, license: str, url: str | None) -> int:
    avatar = (
        {"avatar_id": args.avatar} if _looks_like_id(args.avatar) else {"avatar_name": args.avatar}
    )
    options = {"url": url} if url else {}
    lines = args.line or list(DEMO_LINES)
    printer = _LivePrinter()
    started = time.monotonic()
    with NavTalkClient(license, **avatar, **options) as client:
        printer.attach(client)
        client.connect(timeout=args.timeout)
        print(f"connected: session {client.session_id} in {_ms(time.monotonic() - started)}\n")
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
        f"\n{len(lines)} turns; reply time mean {_ms(sum(latencies) / len(latencies))}, "
        f"max {_ms(max(latencies))}; {stats['events_received']} events received, "
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


def _looks_like_id(avatar: str) -> bool:
    return len(avatar) == 32 and all(c in "0123456789abcdef" for c in avatar.lower())


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# ------------------------------------------------------------------ serve


def run_serve(args: argparse.Namespace) -> int:
    from .server import LocalServer

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding {args.host}, not loopback", file=sys.stderr)
    license = args.license or os.environ.get("NAVTALK_LICENSE")
    # Without a licence to check, any licence is let in: licences never appear in output,
    # so there would be no way to tell clients a generated one.
    server = LocalServer(host=args.host, port=args.port, license=license,
                         accept_any_license=license is None)  # fmt: skip
    server.start()
    print(f"NavTalk-compatible server at {server.url}")
    if license is None:
        print("accepting any licence (pass --license or set NAVTALK_LICENSE to require one)")
    print("Ctrl-C to stop.")
    try:
        server.serve_forever()
    finally:
        server.stop()
    return EXIT_OK


if __name__ == "__main__":
    console()

"""``navtalk-sync demo``: a short conversation, by default with the bundled local server (no
licence needed), showing what happens as it happens.

Spoken by default (``spoken_demo``): eSpeak NG asks a question, the avatar answers aloud and
on video, and the recording and a contact sheet of its face are left in ``--out``. With
``--text``, with lines of your own, or without the voice extra: a text conversation.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from .. import NavTalkClient
from .common import EXIT_OK, EXIT_USAGE, avatar_option, ms
from .live import LivePrinter

DEMO_LINES = (
    "Hello!",
    "What can you do?",
    "Is breakfast included?",
)


def register(commands: Any) -> None:
    demo = commands.add_parser(
        "demo",
        help="a short spoken conversation (local server by default)",
        description="Hold a short conversation and show every step. Without --license (or "
        "NAVTALK_LICENSE) it starts the bundled local server, and eSpeak NG asks a question "
        "aloud; the avatar's answer is recorded to navtalk-demo.mp4 and its face over the "
        "reply drawn in navtalk-demo-face.png (in --out). With a licence, you speak into the "
        "default microphone and hear the avatar on the default speaker.",
        epilog="examples:\n  navtalk-sync demo\n  navtalk-sync demo --out /tmp/demo --speaker\n"
        "  navtalk-sync demo --text\n  navtalk-sync demo 'What is your name?'\n"
        "  NAVTALK_LICENSE=sk_navtalk_... navtalk-sync demo --avatar navtalk.Leo --seconds 60",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--license", help="use the hosted service with this licence")
    demo.add_argument("--avatar", default="navtalk.Leo", help="avatar name or 32-hex id")
    demo.add_argument("--url", help="with --license: the endpoint (self-hosted, or a "
                      "`navtalk-sync serve`, which takes any licence)")  # fmt: skip
    demo.add_argument("--timeout", type=float, default=30.0, help="seconds per step")
    demo.add_argument("--text", action="store_true", help="a text conversation instead")
    demo.add_argument("--out", default=".", help="folder for the mp4 and PNG (default: here)")
    demo.add_argument("--speaker", action="store_true",
                      help="play the avatar's voice here (always, with a licence)")  # fmt: skip
    demo.add_argument("--seconds", type=float, default=30.0,
                      help="how long you may talk (with a licence)")  # fmt: skip
    demo.add_argument("line", nargs="*", help="text lines to say (implies --text)")
    demo.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    license = args.license or os.environ.get("NAVTALK_LICENSE")
    if args.url and not license:
        print("navtalk-sync demo: --url needs --license (a `navtalk-sync serve` takes any)",
              file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    spoken = not args.text and not args.line and _voice_installed(local=not license)
    if license:
        where = f"the service at {args.url}" if args.url else "the hosted service"
        print(f"navtalk-sync demo: {where}, avatar {args.avatar}")
        return _converse(args, license, args.url, spoken, local=False)
    from ..server import LocalServer  # the client itself never imports the server

    with LocalServer(latency="realistic") as server:  # a hosted avatar's pace
        print(f"navtalk-sync demo: local NavTalk-compatible server at {server.url}")
        brain = "hears you with pocketsphinx, " if spoken else ""
        print(f"(no licence needed; the local server {brain}answers with a small rule brain)\n")
        return _converse(args, server.license, server.url, spoken, local=True)


def _voice_installed(local: bool) -> bool:
    """Locally, speaking needs eSpeak NG and pocketsphinx (the voice extra); say so if not."""
    if not local:
        return True  # the hosted service hears you itself
    from ..server import ear, espeak

    if espeak.available() and ear.available():
        return True
    print(
        f"(the voice extra is not installed, so this is a text conversation: "
        f"{espeak.INSTALL_HINT} for the spoken one)"
    )
    return False


def _converse(
    args: argparse.Namespace, license: str, url: str | None, spoken: bool, local: bool
) -> int:
    avatar: dict[str, Any] = avatar_option(args.avatar)
    if spoken:
        from .spoken_demo import hear_and_see

        return hear_and_see(args, license, avatar, url, local)
    return _type(args, license, avatar, url)


def _type(args: argparse.Namespace, license: str, avatar: dict[str, Any], url: str | None) -> int:
    """The text conversation: each line asked in turn, the reply streamed as it comes."""
    options: dict[str, Any] = {"url": url} if url else {}
    lines = args.line or list(DEMO_LINES)
    printer = LivePrinter()
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
        f"{len(lines)} turns; reply time mean {ms(sum(latencies) / len(latencies))}, "
        f"max {ms(max(latencies))}; {stats['events_received']} events received, "
        f"{stats['frames_sent']} frames sent"
    )
    return EXIT_OK

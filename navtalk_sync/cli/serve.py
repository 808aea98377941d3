"""``navtalk-sync serve``: the bundled NavTalk-compatible server, on loopback, until Ctrl-C."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .common import EXIT_OK


def register(commands: Any) -> None:
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


def run_serve(args: argparse.Namespace) -> int:
    from ..server import LocalServer

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

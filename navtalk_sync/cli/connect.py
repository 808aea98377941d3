"""The connection options ``listen`` and ``chat`` share, and the client they make from them:
the hosted service with a licence, else the bundled local server (started here, stopped after).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from typing import Any, Iterator

from .. import NavTalkClient
from .common import avatar_option


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """``--license``, ``--avatar``, ``--url``, ``--media/--no-media``, ``--timeout``."""
    parser.add_argument("--license", help="use the hosted service with this licence")
    parser.add_argument("--avatar", default="navtalk.Leo", help="avatar name or 32-hex id")
    parser.add_argument("--url", help="endpoint override (self-hosted or a running local server)")
    parser.add_argument(
        "--media",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="receive the avatar's face and voice over WebRTC (default: on)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to connect")


@contextlib.contextmanager
def session_client(args: argparse.Namespace, **options: Any) -> Iterator[NavTalkClient]:
    """A client for ``args``, not yet connected; closed (and any local server stopped) after.

    A licence (``--license`` or ``NAVTALK_LICENSE``) and no ``--url``: the hosted service.
    ``--url``: that server (a licence is optional: a ``serve`` without one takes any). Neither:
    the bundled local server, started here; its address goes to stderr, keeping stdout for
    what the subcommand prints.
    """
    license = args.license or os.environ.get("NAVTALK_LICENSE")
    settings = {**avatar_option(args.avatar), "media": args.media, **options}
    if license and args.url is None:
        with NavTalkClient(license, **settings) as client:
            yield client
        return
    if args.url is not None:  # a server already running: any licence it takes
        # a `navtalk-sync serve` takes any licence; this one reads as one in any log
        with NavTalkClient(license or "sk_navtalk_local", url=args.url, **settings) as client:
            yield client
        return
    from ..server import LocalServer  # the client itself never imports the server

    with LocalServer() as server:
        print(f"local NavTalk-compatible server at {server.url}", file=sys.stderr)
        with NavTalkClient(server.license, url=server.url, **settings) as client:
            yield client

"""``navtalk-sync avatar NAME|ID``: look an avatar up over the open API and print its fields."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .. import get_avatar
from ..avatars import DEFAULT_API_URL, provider_problems
from ..config import redact
from .common import EXIT_OK, looks_like_id

#: The fields printed, in order (``raw`` is left out: it repeats them).
FIELDS = (
    "id", "name", "provider_name", "provider_id", "model", "voice", "status",
    "thumbnail_url", "url", "first_message", "prompt",
)  # fmt: skip


def register(commands: Any) -> None:
    avatar = commands.add_parser(
        "avatar",
        help="look an avatar up by name or 32-hex id",
        description="Look an avatar up over the NavTalk open API (needs a licence: --license "
        "or NAVTALK_LICENSE) and print its fields, with a warning when its provider cannot "
        "take tools or images. Exit code 4 when there is no such avatar.",
        epilog="examples:\n  NAVTALK_LICENSE=sk_navtalk_... navtalk-sync avatar navtalk.Leo\n"
        "  navtalk-sync avatar --url http://127.0.0.1:8765/api/open/v1 --license any navtalk.Leo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    avatar.add_argument("avatar", metavar="NAME|ID", help="avatar name, or its 32-hex id")
    avatar.add_argument("--license", help="licence (default: NAVTALK_LICENSE)")
    avatar.add_argument("--url", default=DEFAULT_API_URL, help="open API base URL override")
    avatar.add_argument("--timeout", type=float, default=10.0, help="seconds to wait")
    avatar.set_defaults(run=run_avatar)


def run_avatar(args: argparse.Namespace) -> int:
    license = args.license or os.environ.get("NAVTALK_LICENSE")
    which = {"avatar_id": args.avatar} if looks_like_id(args.avatar) else {"name": args.avatar}
    info = get_avatar(license, base_url=args.url, timeout=args.timeout, **which)  # errors: main
    width = max(len(field) for field in FIELDS)
    for field in FIELDS:
        value = getattr(info, field)
        print(f"{field:<{width}}  {redact(value) if value is not None else '-'}")
    for problem in provider_problems(info, has_tools=False):
        print(f"warning: {problem}", file=sys.stderr)
    return EXIT_OK

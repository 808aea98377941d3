"""``navtalk-sync listen --jsonl``: every event of a session as one JSON line on stdout."""

from __future__ import annotations

import argparse
import base64
import enum
import json
import time
from typing import Any

import attrs

from .. import NavTalkTimeout, events
from ..redaction import redact_value
from .common import EXIT_OK
from .connect import add_connection_arguments, session_client

#: Events that may wait unread between two lines printed; a reader that falls further behind
#: ends the command (SubscriptionOverflow, exit 3) rather than lose events silently.
BACKLOG = 10_000


def register(commands: Any) -> None:
    listen = commands.add_parser(
        "listen",
        help="print every event as a JSON line (for jq and other tools)",
        description="Connect and print every event, as it arrives, as one JSON object per line "
        'on stdout: {"type": ..., "event": class name, "fields": {...}, "raw": {...}}. '
        "Licences are redacted. Runs until Ctrl-C, --seconds or --count; --say sends lines "
        "after connecting so the avatar has something to answer.",
        epilog="examples:\n  navtalk-sync listen --jsonl --say 'Hello!' --count 20\n"
        "  navtalk-sync listen --jsonl --seconds 30 | jq -r 'select(.type | "
        'startswith("realtime.response")) | .type\'',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listen.add_argument(
        "--jsonl", action="store_true", help="JSON lines on stdout (the only format, for now)"
    )
    listen.add_argument("--say", action="append", default=[], metavar="TEXT",
                        help="send TEXT after connecting (repeatable, in order)")  # fmt: skip
    listen.add_argument("--seconds", type=float, help="stop after this many seconds")
    listen.add_argument("--count", type=int, help="stop after this many events")
    add_connection_arguments(listen)
    listen.set_defaults(run=run_listen)


def run_listen(args: argparse.Namespace) -> int:
    deadline = None if args.seconds is None else time.monotonic() + args.seconds
    printed = 0
    # Subscribed before connect(), so the setup events are printed too.
    with session_client(args) as client, client.events("*", maxsize=BACKLOG) as subscription:
        client.connect(timeout=args.timeout)
        for text in args.say:
            client.send_text(text)
        while args.count is None or printed < args.count:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                break
            try:
                event = subscription.get(remaining)
            except NavTalkTimeout:
                break
            print(event_line(event), flush=True)
            printed += 1
    return EXIT_OK


def event_line(event: events.Event) -> str:
    """``event`` as one line of JSON, licences redacted."""
    fields = {
        field.name: json_safe(getattr(event, field.name))
        for field in attrs.fields(type(event))
        if field.name not in ("type", "raw")
    }
    record = {
        "type": event.type,
        "event": type(event).__name__,
        "fields": fields,
        "raw": json_safe(event.raw),
    }
    # Redacted before it is serialised: JSON escapes would hide a secret from the patterns.
    return json.dumps(redact_value(record), ensure_ascii=False)


#: Keys of a raw frame whose values are credentials (an ICE server's), never printed.
_CREDENTIAL_KEYS = frozenset({"credential", "password"})


def json_safe(value: Any) -> Any:
    """``value`` as JSON types: attrs classes and mappings as objects, bytes as base64."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return json_safe(value.value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
    if attrs.has(type(value)):  # fields kept out of reprs (an ICE credential) are not shown
        shown = [f for f in attrs.fields(type(value)) if f.repr]
        return {f.name: json_safe(getattr(value, f.name)) for f in shown}
    if isinstance(value, dict) or hasattr(value, "items"):
        return {
            str(key): "***" if key in _CREDENTIAL_KEYS else json_safe(item)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(item) for item in value]
    if isinstance(value, BaseException):
        return f"{type(value).__name__}: {value}"
    return str(value)

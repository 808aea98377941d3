"""``navtalk-sync serve``: the bundled NavTalk-compatible server, on loopback, until Ctrl-C.

Fault flags (``--fault NAME=VALUE``) set fields of ``navtalk_sync.server.faults.Faults``, so a
client can be tried against a server that misbehaves on purpose; ``--drop-every`` aborts every
connection periodically, as a flaky network would.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import textwrap
import threading
from typing import Any, Callable

import attrs

from ..server.avatars import DEFAULT_AVATARS, Avatar, avatar_id_for
from ..server.faults import Faults
from ..threads import LibraryThread
from .common import EXIT_OK

#: Fields of Faults that take raw frames: each --fault for them adds one frame.
_FRAME_LIST_FIELDS = ("frames_after_success", "frames_before_reply")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def register(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the local NavTalk-compatible server",
        description="Run the bundled NavTalk-compatible server on loopback until Ctrl-C, "
        "optionally misbehaving on purpose (--fault, --drop-every) to try a client against it.",
        epilog="examples:\n  navtalk-sync serve --port 8765\n"
        "  navtalk-sync serve --video-size 320x240 --fps 15 --audio-deltas\n"
        "  navtalk-sync serve --fault setup_notice=gpu_full --fault up_to_connection=2\n"
        "  navtalk-sync serve --drop-every 30\n"
        "  navtalk-sync serve --avatar Ada --avatar Bob=elevenlabs --brain mybot:answer\n\n"
        "fault fields (--fault NAME=VALUE; see navtalk_sync.server.faults.Faults):\n"
        + textwrap.fill(_fault_names(), 88, initial_indent="  ", subsequent_indent="  "),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument("--port", type=int, default=8765, help="port (0 = any free port)")
    serve.add_argument("--license", help="licence clients must present (default: any)")
    serve.add_argument("--video-size", type=video_size, default=(512, 512), metavar="WxH",
                       help="the avatar's video size (default 512x512)")  # fmt: skip
    serve.add_argument("--fps", type=_positive_float, default=25.0, help="video frame rate")
    serve.add_argument(
        "--latency",
        choices=("fast", "realistic"),
        default="fast",
        help="fast answers, or a hosted avatar's setup, thinking and streaming times",
    )
    serve.add_argument(
        "--avatar",
        type=avatar_setting,
        action="append",
        default=[],
        metavar="NAME[=PROVIDER]",
        help="also serve this avatar (repeatable; provider default openai)",
    )
    serve.add_argument(
        "--brain",
        type=brain_setting,
        metavar="MODULE:FUNCTION",
        help="answer with this function (BrainRequest -> str), not the rule brain",
    )
    serve.add_argument(
        "--audio-deltas", action="store_true", help="also send the reply audio as audio deltas"
    )
    serve.add_argument("--ice-server", action="append", default=[], metavar="URL",
                       help="an ICE server to name to clients (stun:, turn:, turns:); repeat "
                       "for more")  # fmt: skip
    serve.add_argument("--ice-username", help="the TURN username for every --ice-server")
    serve.add_argument("--ice-credential", help="the TURN password for every --ice-server")
    serve.add_argument("--tls", action="store_true",
                       help="serve wss:// and https:// with a CA made at start (its PEM path "
                       "is printed: pass it to clients as ca_file=)")  # fmt: skip
    serve.add_argument("--fault", type=fault_setting, action="append", default=[],
                       metavar="NAME=VALUE", help="set a Faults field (repeatable)")  # fmt: skip
    serve.add_argument(
        "--drop-every",
        type=_positive_float,
        metavar="SECONDS",
        help="abort every open connection this often (clients see code 1006)",
    )
    serve.set_defaults(run=run_serve)


def _ice_servers(args: argparse.Namespace) -> list[dict[str, Any]]:
    servers: list[dict[str, Any]] = []
    for url in args.ice_server:
        server: dict[str, Any] = {"urls": [url]}
        if url.startswith(("turn:", "turns:")) and args.ice_username is not None:
            server.update(username=args.ice_username, credential=args.ice_credential or "")
        servers.append(server)
    return servers


def run_serve(args: argparse.Namespace) -> int:
    from ..server import LocalServer

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: binding {args.host}, not loopback", file=sys.stderr)
    license = args.license or os.environ.get("NAVTALK_LICENSE")
    faults = build_faults(args.fault)
    # Without a licence to check, any licence is let in: licences never appear in output,
    # so there would be no way to tell clients a generated one.
    avatars = (*DEFAULT_AVATARS, *args.avatar)
    server = LocalServer(host=args.host, port=args.port, license=license,
                         accept_any_license=license is None, faults=faults,
                         avatars=avatars, brain=args.brain,
                         video_size=args.video_size, fps=args.fps,
                         audio_deltas=args.audio_deltas, latency=args.latency,
                         ice_servers=_ice_servers(args), tls=args.tls)  # fmt: skip
    server.start()
    print(f"NavTalk-compatible server at {server.url}")
    if server.ca_file is not None:
        print(f"trust this CA in clients (ca_file=): {server.ca_file}")
    for url in args.ice_server:
        print(f"ICE server named to clients: {url}")
    if license is None:
        print("accepting any licence (pass --license or set NAVTALK_LICENSE to require one)")
    for name, value in args.fault:
        print(f"fault: {name}={value!r}")
    for avatar in args.avatar:
        print(f"avatar: {avatar.name} (id {avatar.id}, provider {avatar.provider_name})")
    if args.brain is not None:
        print(f"brain: {args.brain.__module__}:{args.brain.__qualname__}")
    dropper = _Dropper(server, args.drop_every) if args.drop_every else None
    if dropper is not None:
        print(f"dropping every connection every {args.drop_every:g} s")
    print("Ctrl-C to stop.", flush=True)
    try:
        server.serve_forever()
    finally:
        if dropper is not None:
            dropper.stop()
        server.stop()
    return EXIT_OK


# --------------------------------------------------------------------------- flags


def video_size(text: str) -> tuple[int, int]:
    """``"320x240"`` as ``(320, 240)``."""
    width, _, height = text.lower().partition("x")
    try:
        size = int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None
    if min(size) < 16 or max(size) > 4096 or any(side % 2 for side in size):
        raise argparse.ArgumentTypeError("width and height must be even, from 16 to 4096")
    return size


def avatar_setting(text: str) -> Avatar:
    """``"Ada"`` or ``"Ada=elevenlabs"`` as an Avatar (its id derived from the name)."""
    name, _, provider = text.partition("=")
    if not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME or NAME=PROVIDER, got {text!r}")
    return Avatar(id=avatar_id_for(name), name=name, provider_name=provider or "openai")


def brain_setting(text: str) -> Callable[..., Any]:
    """``"package.module:function"`` as the function (imported now, so a typo is a usage error)."""
    module_name, _, attribute = text.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"cannot load brain {text!r}: {exc}") from None
    if not callable(function):
        raise argparse.ArgumentTypeError(f"brain {text!r} is not callable")
    return function  # type: ignore[no-any-return]


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def fault_setting(text: str) -> tuple[str, Any]:
    """``"NAME=VALUE"`` as (field, value), the value converted for the Faults field and checked
    by its validator."""
    name, equals, raw = text.partition("=")
    fields = attrs.fields_dict(Faults)
    if not equals or name not in fields:
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE with NAME one of: {_fault_names()}; got {text!r}"
        )
    value = _convert(raw, str(fields[name].type), name)
    try:
        attrs.evolve(Faults(), **{name: value})  # runs the field's converter and validator
    except (ValueError, TypeError) as exc:
        raise argparse.ArgumentTypeError(f"--fault {name}: {exc}") from None
    return name, value


def build_faults(settings: list[tuple[str, Any]]) -> Faults:
    """The Faults the ``--fault`` settings describe (later settings win; frames add up)."""
    values: dict[str, Any] = {}
    for name, value in settings:
        if name in _FRAME_LIST_FIELDS:
            values[name] = [*values.get(name, []), *value]
        else:
            values[name] = value
    return Faults(**values)


def _convert(raw: str, type_text: str, name: str) -> Any:
    """``raw`` as the type a Faults field's annotation names (``int | None``, ``bool``...)."""
    if name in _FRAME_LIST_FIELDS:
        return [raw]
    if "None" in type_text and raw.lower() in ("", "none", "null"):
        return None
    if type_text.startswith("bool"):
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise argparse.ArgumentTypeError(f"--fault {name}: expected true or false, got {raw!r}")
    if type_text.startswith("tuple"):
        return tuple(step.strip() for step in raw.split(","))
    for kind in (int, float):
        if type_text.startswith(kind.__name__):
            try:
                return kind(raw)
            except ValueError:
                raise argparse.ArgumentTypeError(
                    f"--fault {name}: expected {kind.__name__}, got {raw!r}"
                ) from None
    return raw


def _fault_names() -> str:
    return ", ".join(field.name for field in attrs.fields(Faults))


class _Dropper:
    """Calls ``server.drop_connections()`` every ``interval`` seconds on a thread of its own."""

    def __init__(self, server: Any, interval: float) -> None:
        self._server = server
        self._interval = interval
        self._stopping = threading.Event()
        self._thread = LibraryThread(target=self._run, name="navtalk-cli-dropper")
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            dropped = self._server.drop_connections()
            if dropped:
                print(f"dropped {dropped} connection(s)", flush=True)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

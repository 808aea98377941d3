"""The ``navtalk-sync`` command. One module per subcommand; this one parses and dispatches.

Every subcommand module has ``register(commands)``, which adds its parser and sets
``run(args) -> exit code``.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Sequence

from .. import NavTalkError
from . import avatar, chat, demo, devices, listen, serve
from .common import EXIT_CODES_HELP, EXIT_INTERRUPTED, exit_code_for

__all__ = ["console", "main"]

#: The subcommands, in the order ``--help`` lists them.
SUBCOMMANDS = (demo, chat, serve, devices, avatar, listen)


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
        return EXIT_INTERRUPTED
    except NavTalkError as exc:  # texts are already redacted
        print(f"navtalk-sync: {exc}", file=sys.stderr)
        return exit_code_for(exc)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="navtalk-sync",
        description="Talk to a NavTalk digital human from the terminal.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    commands = parser.add_subparsers(dest="command", required=True)
    for subcommand in SUBCOMMANDS:
        subcommand.register(commands)
    return parser

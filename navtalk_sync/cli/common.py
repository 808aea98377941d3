"""What the subcommands share: exit codes and small formatting helpers."""

from __future__ import annotations

#: Exit codes; the top-level ``--help`` lists them (keep ``EXIT_CODES_HELP`` in step).
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CONNECT = 0, 1, 2, 3
EXIT_NOT_FOUND = 4  # the avatar (or another named thing) does not exist
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT

EXIT_CODES_HELP = """exit codes:
  0    ok
  1    error (a bad argument, a file that cannot be read, a failed reply)
  2    usage (a wrong flag or a missing argument)
  3    cannot connect (unreachable server, refused licence, a server notice)
  4    not found (avatar NAME|ID unknown to the service)
  130  interrupted (Ctrl-C)"""


def looks_like_id(avatar: str) -> bool:
    """A 32-hex avatar id (else it is a name)."""
    return len(avatar) == 32 and all(c in "0123456789abcdef" for c in avatar.lower())


def avatar_option(avatar: str) -> dict[str, str]:
    """``avatar_id=`` or ``avatar_name=`` for ``NavTalkClient``, whichever ``avatar`` is."""
    return {"avatar_id": avatar} if looks_like_id(avatar) else {"avatar_name": avatar}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"

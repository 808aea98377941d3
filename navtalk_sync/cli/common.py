"""What the subcommands share: exit codes and small formatting helpers."""

from __future__ import annotations

from .. import errors

#: Exit codes; the top-level ``--help`` lists them (keep ``EXIT_CODES_HELP`` in step).
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CONNECT = 0, 1, 2, 3
EXIT_NOT_FOUND = 4  # the avatar (or another named thing) does not exist
EXIT_REFUSED = 5  # the service said no: licence, avatar, balance, connection limit
EXIT_DEVICE = 6  # an audio device is missing or failed
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT

EXIT_CODES_HELP = """exit codes:
  0    ok
  1    error (a bad argument, a file that cannot be read, a failed reply, a missing extra)
  2    usage (a wrong flag or a missing argument)
  3    cannot connect, or the connection was lost (unreachable server, timeout, a
       server busy for now: gpu_full, backend_error); trying again later may work
  4    not found (avatar NAME|ID unknown to the service)
  5    refused (bad licence, unknown avatar, insufficient balance, connection limit):
       fix that before trying again
  6    audio device (none found, or it failed): see `navtalk-sync devices`
  130  interrupted (Ctrl-C)"""


def looks_like_id(avatar: str) -> bool:
    """A 32-hex avatar id (else it is a name)."""
    return len(avatar) == 32 and all(c in "0123456789abcdef" for c in avatar.lower())


def avatar_option(avatar: str) -> dict[str, str]:
    """``avatar_id=`` or ``avatar_name=`` for ``NavTalkClient``, whichever ``avatar`` is."""
    return {"avatar_id": avatar} if looks_like_id(avatar) else {"avatar_name": avatar}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def exit_code_for(error: errors.NavTalkError) -> int:
    """The exit code that tells a shell user what to do about ``error``."""
    if isinstance(error, errors.AudioDeviceError):
        return EXIT_DEVICE
    if isinstance(error, errors.MissingExtra):
        return EXIT_ERROR
    if isinstance(error, errors.AvatarNotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, errors.AvatarLookupFailed):
        return EXIT_REFUSED if error.status_code in (401, 403) else EXIT_CONNECT
    if isinstance(error, errors.ServerNotice):
        return EXIT_CONNECT if error.retryable else EXIT_REFUSED
    if isinstance(error, (errors.InvalidArgument, errors.MediaError, errors.ResponseFailed)):
        return EXIT_ERROR
    return EXIT_CONNECT  # unreachable, timed out, or the session was lost

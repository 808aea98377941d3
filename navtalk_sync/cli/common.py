"""What the subcommands share: exit codes and small formatting helpers."""

from __future__ import annotations

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CONNECT = 0, 1, 2, 3


def looks_like_id(avatar: str) -> bool:
    """A 32-hex avatar id (else it is a name)."""
    return len(avatar) == 32 and all(c in "0123456789abcdef" for c in avatar.lower())


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"

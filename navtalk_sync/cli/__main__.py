"""``python -m navtalk_sync.cli``."""

from . import console

console()

"""A private X server (Xvfb) for tests that open windows."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from typing import Iterator

#: Why a window test cannot run here, or None when Xvfb is installed.
XVFB_MISSING = None if shutil.which("Xvfb") else "Xvfb is missing: install Debian's xvfb package"


@contextlib.contextmanager
def virtual_display() -> Iterator[str]:
    """Starts Xvfb on a free display number (it picks one itself); yields ``":N"``."""
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "800x700x24", "-nolisten", "tcp"],
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    try:
        with os.fdopen(read_end) as numbers:
            number = numbers.readline().strip()  # written once the server takes clients
        assert number, "Xvfb did not start"
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait(10)

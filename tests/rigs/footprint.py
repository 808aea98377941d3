"""What a process holds (memory, threads, open files, CPU time), read from Linux's ``/proc``.

The connect/close cycle test and the soak and load benchmarks (``bench/``) repeat the same
work many times and watch these figures: a leak is one of them growing with the repetitions.
Every reader takes a ``pid`` (default: this process), so a benchmark can watch the local
server it runs in a child process too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import threading
from pathlib import Path

import attrs

#: Why these figures cannot be read here, or None when they can.
MISSING = None if Path("/proc/self/status").exists() else "needs Linux's /proc"

_LIBC_NAME = ctypes.util.find_library("c")
_LIBC = ctypes.CDLL(_LIBC_NAME) if _LIBC_NAME else None


def status_field(name: str, pid: int | str = "self") -> int:
    """The number in the ``name:`` line of ``/proc/<pid>/status`` (kB for sizes)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return int(value.split()[0])
    raise KeyError(f"/proc/{pid}/status has no {name!r} line")


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory (VmRSS), in MB."""
    return status_field("VmRSS", pid) / 1024


def os_thread_count(pid: int | str = "self") -> int:
    """Every thread of the process, including those Python does not know of (C libraries')."""
    return status_field("Threads", pid)


def os_thread_names(pid: int | str = "self") -> tuple[str, ...]:
    """The kernel's name of every thread, sorted: Python's threads show as the program's name,
    while C libraries' runtimes name theirs (livekit's ``tokio-rt-worker``, ``livekit-audio``)."""
    names = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/comm", encoding="utf-8") as comm:
                names.append(comm.read().strip())
        except OSError:  # the thread ended while the list was read
            pass
    return tuple(sorted(names))


def open_fd_count(pid: int | str = "self") -> int:
    """Open file descriptors: files, pipes and sockets (TCP and the UDP ones ICE uses)."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time the process has used so far."""
    # the command name (field 2) may hold spaces; utime and stime follow it as fields 14 and 15
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def release_free_memory() -> None:
    """Collect garbage and hand the allocator's free pages back to the system.

    After this, RSS is the memory still in use. glibc keeps freed memory in its arenas and
    returns it only now and then, so RSS alone steps up and down by tens of MB as sessions come
    and go, hiding a small leak or faking a large one.
    """
    gc.collect()
    malloc_trim = getattr(_LIBC, "malloc_trim", None)  # glibc only
    if malloc_trim is not None:
        malloc_trim(0)


@attrs.frozen
class Footprint:
    """A snapshot of what this process holds."""

    rss_mb: float
    os_threads: int
    fds: int
    #: the names of the Python threads alive, sorted
    thread_names: tuple[str, ...]
    #: the kernel's names of every thread, sorted (see os_thread_names)
    os_thread_names: tuple[str, ...] = ()

    @classmethod
    def now(cls) -> Footprint:
        return cls(
            rss_mb=rss_mb(),
            os_threads=os_thread_count(),
            fds=open_fd_count(),
            thread_names=tuple(sorted(t.name for t in threading.enumerate())),
            os_thread_names=os_thread_names(),
        )

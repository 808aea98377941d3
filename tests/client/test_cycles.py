"""A hundred sessions in a row leave nothing behind: threads, sockets and memory stay flat.

Each cycle is a whole session against one local server: connect, the WebRTC offer and answer,
ICE on loopback, the first video frame decoded, close. aiortc has reports of memory not freed
after a peer connection closes (aiortc issues #904 and #925), so the process's footprint is
taken after a warm-up (imports, caches and the allocator's first arenas settle there) and again
at the end. The server runs in this process, so its side of every session counts too.
"""

from __future__ import annotations

import time

import pytest

from navtalk_sync.server.app import THREAD_NAME, WORKER_THREADS
from tests.helpers import client_for
from tests.rigs.footprint import MISSING, Footprint, release_free_memory

pytestmark = [
    pytest.mark.skipif(MISSING is not None, reason=MISSING or ""),
    # 100 cycles take about 10 s on the project's 2-core machine
    pytest.mark.timeout(240),
]

CYCLES = 100
WARM_UP = 10
#: The bound the issue sets: growth of the memory in use, per cycle after the warm-up.
MAX_GROWTH_MB_PER_CYCLE = 0.5
#: How long the server's side of the last session may take to finish closing.
SETTLE_SECONDS = 5.0
#: The server's loop starts the threads of its executor (aiortc's encoders) as it needs them,
#: up to WORKER_THREADS: that pool may grow after the warm-up without anything leaking.
SERVER_POOL = f"{THREAD_NAME}-worker"
#: Threads of a process-wide runtime that an earlier test in the same process may have started
#: (the echo canceller's livekit: its tokio pool grows and shrinks on its own time); they are
#: not a session's, and no session here starts one.
RUNTIME_THREADS = ("tokio-", "livekit")


def one_session(server) -> None:
    """Connect, receive a decoded video frame, close."""
    with client_for(server) as client:
        client.connect(timeout=10)
        frame = client.wait_for_video(timeout=10)
        assert (frame.width, frame.height) == (512, 512)
    assert client.state == "closed"


def server_pool_size(footprint: Footprint) -> int:
    return sum(name.startswith(SERVER_POOL) for name in footprint.thread_names)


def held(footprint: Footprint) -> tuple[tuple[str, ...], int, int]:
    """What must come back to its warm-up level: the threads (by name, and every OS thread,
    C libraries' included) outside the server's pool, and the open file descriptors."""
    pool = server_pool_size(footprint)
    runtime = sum(name.startswith(RUNTIME_THREADS) for name in footprint.os_thread_names)
    names = tuple(n for n in footprint.thread_names if not n.startswith(SERVER_POOL))
    return names, footprint.os_threads - pool - runtime, footprint.fds


def settled_footprint(like: Footprint) -> Footprint:
    """The footprint once it holds what ``like`` held, or after SETTLE_SECONDS: the server
    closes its side of the last session on its own time."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        release_free_memory()
        now = Footprint.now()
        if held(now) == held(like) or time.monotonic() > deadline:
            return now
        time.sleep(0.1)


def test_a_hundred_sessions_leave_threads_sockets_and_memory_flat(make_server):
    server = make_server()
    for _ in range(WARM_UP):
        one_session(server)
    warm = settled_footprint(Footprint.now())

    for _ in range(CYCLES - WARM_UP):
        one_session(server)
    end = settled_footprint(warm)

    threads, os_threads, fds = held(end)
    warm_threads, warm_os_threads, warm_fds = held(warm)
    assert threads == warm_threads  # no navtalk-*, aiortc or asyncio thread left
    assert os_threads == warm_os_threads, (  # nor one started by a C library (PyAV, libvpx)
        f"OS threads by name: {warm.os_thread_names} after the warm-up, {end.os_thread_names} "
        "at the end"
    )
    assert server_pool_size(end) <= WORKER_THREADS
    assert fds == warm_fds  # no socket, ICE UDP port or pipe left open
    growth = (end.rss_mb - warm.rss_mb) / (CYCLES - WARM_UP)
    assert growth < MAX_GROWTH_MB_PER_CYCLE, (
        f"memory in use grew {growth:.3f} MB a cycle ({warm.rss_mb:.1f} -> {end.rss_mb:.1f} MB)"
    )

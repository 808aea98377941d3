"""The lifecycle the speaker and the microphone share: open a device, run a thread over it.

``start()`` opens the device on the caller's thread (so a bad device raises there), then starts
the named thread that owns it; ``close()`` is idempotent, works from any thread, tells the
thread to stop and joins it with a timeout. A thread stuck in a device that stopped responding
is left to finish on its own (it is a daemon thread) and closes the device when it returns.
"""

from __future__ import annotations

import threading
from typing import Generic, Protocol, TypeVar

from ..errors import NavTalkError
from ..logs import get_logger
from ..threads import LibraryThread

__all__ = ["DeviceThread"]

log = get_logger(__name__)


class OpenDevice(Protocol):
    def close(self) -> None: ...

    def describe(self) -> str: ...


D = TypeVar("D", bound=OpenDevice)


class DeviceThread(Generic[D]):
    """Subclasses give ``_open_device()`` and ``_run(device)``, and call ``__init__``."""

    def __init__(self, what: str, thread_name: str) -> None:
        self._what = what
        self._thread_name = thread_name
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._starting = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._device: D | None = None

    def _open_device(self) -> D:
        raise NotImplementedError

    def _run(self, device: D) -> None:
        raise NotImplementedError

    def _closing(self) -> None:
        """Called once by close(), before the thread is joined (wake it up here)."""

    def start(self) -> DeviceThread[D]:
        with self._lock:
            if self._closed:
                raise NavTalkError(f"this {self._what} is closed; create a new one")
            if self._thread is not None or self._starting:
                return self
            self._starting = True
        try:
            device = self._open_device()
        except BaseException:
            with self._lock:
                self._starting = False
            raise
        with self._lock:
            self._starting = False
            if self._closed:
                device.close()
                raise NavTalkError(f"the {self._what} was closed while it was starting")
            self._device = device
            self._thread = LibraryThread(target=self._run, args=(device,), name=self._thread_name)
            self._thread.start()
        log.debug("%s started: %s", self._what, device.describe())
        return self

    @property
    def running(self) -> bool:
        """The thread is alive (started and not yet ended)."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def close(self, timeout: float = 1.0) -> None:
        """Stop the thread and join it; called again, it joins a thread still running."""
        with self._lock:
            first, self._closed = not self._closed, True
            thread = self._thread
        if first:
            self._stopping.set()
            self._closing()
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout)
        if thread.is_alive():
            log.warning("the %s thread did not stop within %.1f s", self._thread_name, timeout)

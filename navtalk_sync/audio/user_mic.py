"""The client's microphone: a ``Microphone`` feeding the uplink (through the echo canceller
when there is one), the user's mute, half-duplex.

Two reasons to mute, kept apart so neither overrides the other: the user's ``mute()``, and
half-duplex (the avatar is speaking, so a speaker's sound reaching the microphone does not
make the server hear the avatar as the user and barge in on it forever). The microphone is
muted while either holds; muted, it sends silence (see ``Microphone``).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ..errors import NavTalkError, NotConnected
from ..logs import get_logger
from ..timeouts import Deadline
from .devices import DeviceSpec
from .echo import INSTALL_HINT, EchoCanceller
from .microphone import SEND_RATE, Microphone
from .uplink import AudioUplink

__all__ = ["UserMicrophone"]

log = get_logger(__name__)


class UserMicrophone:
    """At most one running microphone for a client, and why it is muted."""

    def __init__(
        self,
        uplink: AudioUplink,
        half_duplex: bool,
        echo: EchoCanceller | None = None,
        echo_off_reason: str = "",
    ) -> None:
        self._uplink = uplink
        self._half_duplex = half_duplex
        self._echo = echo
        self._echo_off_reason = echo_off_reason
        self._echo_off_logged = False
        self._lock = threading.Lock()
        self._microphone: Microphone | None = None
        self._stopping: list[Microphone] = []  # stopped, but their thread may not have ended
        self._closed = False
        self._user_muted = False
        self._avatar_speaking = False

    @property
    def running(self) -> bool:
        return self._microphone is not None

    def start(self, device: DeviceSpec, device_rate: int | None) -> None:
        with self._lock:
            if self._closed:
                raise NotConnected("this client is closed")
            if self._microphone is not None:
                raise NavTalkError("the microphone is already on; stop_microphone() first")
            stream = self._uplink.stream("microphone")
            echo = self._echo

            def send(pcm: np.ndarray) -> None:
                if echo is not None:
                    pcm = echo.capture(pcm)
                # never block the capture thread: a full queue drops the oldest audio (counted)
                stream.write(pcm, SEND_RATE, block=False)

            microphone = Microphone(
                send,
                device,
                device_rate=device_rate,
                muted=self._muted(),
            )
            self._microphone = microphone  # a close() from now on closes it, even mid-start
        try:
            # outside the lock: the device may take a while to open, and close() must not wait
            # for it (the microphone itself refuses to run once closed while starting)
            self._start_echo_canceller()
            microphone.start()  # a bad device raises here, in the caller's thread
            if echo is not None:
                echo.set_latency("input", microphone.latency or 0.0)
        except BaseException as exc:
            with self._lock:
                if self._microphone is microphone:
                    self._microphone = None
                closed = self._closed
            if echo is not None:
                echo.stop()  # nothing to cancel for
            if closed and isinstance(exc, NavTalkError):
                raise NotConnected("the client was closed while the microphone started") from None
            raise

    def _start_echo_canceller(self) -> None:
        if self._echo is not None:
            self._echo.start()
        elif INSTALL_HINT in self._echo_off_reason and not self._echo_off_logged:
            self._echo_off_logged = True
            log.info(
                "echo cancellation is off: %s; with loudspeakers the avatar may hear itself "
                "(use a headset, or half_duplex=True)",
                self._echo_off_reason,
            )

    def stop(self, timeout: float) -> bool:
        """Stop capturing (joins ``navtalk-mic``); False when it was not on. A thread that did
        not end in time is joined again by the next stop() or close()."""
        with self._lock:
            microphone, self._microphone = self._microphone, None
            if microphone is not None:
                self._stopping.append(microphone)
            stopping = list(self._stopping)
        deadline = Deadline(timeout)  # one budget for them all
        for stopped in stopping:
            stopped.close(deadline.remaining())
        with self._lock:  # a stop() and a close() may both be here: keep what still runs
            self._stopping = [m for m in self._stopping if m.running]
            if self._echo is not None and self._microphone is None:
                self._echo.stop()
        return microphone is not None

    def close(self, timeout: float) -> None:
        """Stop for good: ``start()`` raises ``NotConnected`` from now on."""
        with self._lock:
            self._closed = True
        self.stop(timeout)

    def mute(self) -> None:
        with self._lock:
            self._user_muted = True
            self._apply()

    def unmute(self) -> None:
        with self._lock:
            self._user_muted = False
            self._apply()

    def avatar_speaking(self, speaking: bool) -> None:
        """From the rtc loop: the avatar's voice started or stopped (returns at once)."""
        with self._lock:
            self._avatar_speaking = speaking
            self._apply()

    def _muted(self) -> bool:
        return self._user_muted or (self._half_duplex and self._avatar_speaking)

    def _apply(self) -> None:
        microphone = self._microphone
        if microphone is None:
            return
        if self._muted():
            microphone.mute()
        else:
            microphone.unmute()

    @property
    def user_muted(self) -> bool:
        return self._user_muted

    def stats(self) -> dict[str, Any]:
        microphone = self._microphone
        if microphone is None:
            return {}
        echo: dict[str, Any] = self._echo.stats() if self._echo is not None else {"on": False}
        if not echo["on"]:
            unavailable = self._echo.unavailable if self._echo is not None else None
            echo["reason"] = unavailable or self._echo_off_reason
        return {
            "microphone": {
                **microphone.stats(),
                "user_muted": self._user_muted,
                "echo_cancellation": echo,
            }
        }

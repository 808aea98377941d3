"""``ClientParts``: every part of one client, built and wired in one place, opened, counted
and shut down in order.

``NavTalkClient`` checks what it is given and delegates here; this owns the parts:

- the ``EventBus`` (callbacks, subscriptions, the dispatcher thread),
- the ``Connection`` (the current session and reconnection), made at ``open()``,
- the avatar's media (``AvatarMedia``; None with ``media=False``),
- the user's audio (``AudioUplink`` and ``UserMicrophone``),
- the conversation (``History`` and the ``ReplyTracker``),
- function calling (``ToolRegistry`` and ``ToolRunner``) and the image feed.

``shut_down()`` is the one place that orders the parts' closing and shares out close()'s
budget among them.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterable, Mapping

import attrs
import numpy as np

from . import user_code
from .audio.echo import EchoCanceller
from .audio.pcm import UPLINK_RATE
from .audio.uplink import AudioUplink
from .audio.user_mic import UserMicrophone
from .captions import CAPTIONED_EVENTS, Captions
from .config import Settings, ice_host_addresses
from .connection import Connection
from .dispatch import EventBus
from .errors import InvalidArgument, NavTalkError, NotConnected
from .events import CallbackFailure, ReplyInterrupted, SpeechStarted, SpeechStopped
from .history import History
from .images import ImageFeed, ImageInput
from .logs import get_logger
from .replies import REPLY_ENDINGS, ReplyTracker
from .rtc.media import AvatarMedia
from .session import State
from .timeouts import Deadline
from .tool_calls import WATCHED_EVENTS, ToolRunner
from .tools import Tool, ToolRegistry
from .turns import TurnClock

__all__ = ["ClientParts"]

log = get_logger(__name__)


class ClientParts:
    """The parts of one ``NavTalkClient`` and their lifecycle (see the module's notes)."""

    def __init__(self, settings: Settings, history: History | Iterable[Any] | None) -> None:
        self.settings = settings
        self.bus = EventBus(settings.limits.event_queue)
        cancelling, why = settings.echo_cancellation
        audio = settings.audio
        self.echo = (
            EchoCanceller(
                noise_suppression=audio.noise_suppression,
                auto_gain=audio.auto_gain,
                required=audio.echo_cancellation is True,
            )
            if cancelling
            else None
        )
        self.media = (
            AvatarMedia(settings.media, ice_host_addresses(settings), self.bus.publish, self.echo)
            if settings.media is not None
            else None
        )
        self.uplink = AudioUplink(audio, settings.timeouts.send)
        self.microphone = UserMicrophone(self.uplink, audio.half_duplex, self.echo, why)
        if self.media is not None and settings.audio.half_duplex:
            self.media.on_speaking(lambda speaking, at: self.microphone.avatar_speaking(speaking))
        self.turns = TurnClock(
            self.bus.publish,
            with_voice=self.media is not None,
            later=self.media.call_later if self.media is not None else None,
        )
        if self.media is not None:
            self.media.on_speaking(self.turns.voice)
            self.media.on_mouth(self.turns.mouth)
            self._record_both_sides(self.media)
        # A History given as history= is continued; other turns are only replayed.
        self.history = History(history.turns() if isinstance(history, History) else ())
        self._seed_turns = () if isinstance(history, History) else settings.history
        self.replies = ReplyTracker(
            on_reply=self.history.add_reply,
            clock=self.turns,
            on_cut_recorded=self.history.mark_last_reply_interrupted,
        )
        self.tools = ToolRegistry()
        self.tool_runner = ToolRunner(
            self.tools, self._send_tool_message, self.bus.publish, self._current_session
        )
        for watched in WATCHED_EVENTS:
            self.bus.add(watched, self.tool_runner.on_event)
        self.bus.add(SpeechStarted, lambda event: self.cut_reply("speech"))
        if self.media is not None:
            media = self.media
            for ending in REPLY_ENDINGS:
                self.bus.add(ending, lambda event: media.reply_ended())
            self.bus.add(SpeechStopped, lambda event: media.user_turn())
        self.connection: Connection | None = None
        self._image_feed: ImageFeed | None = None  # kept until its thread has ended
        self._lock = threading.Lock()  # the connection and image feed slots, the closed flag
        self._closed = False  # close() was called: nothing new may start
        self._close_lock = threading.Lock()  # one close() at a time does the work

    def _record_both_sides(self, media: AvatarMedia) -> None:
        """A recording may keep the user's voice as it goes up, and the conversation's text."""
        self.uplink.on_sent(
            lambda pcm: media.record_user_audio(np.frombuffer(pcm, "<i2"), UPLINK_RATE)
        )
        captions = Captions(media.record_cue)
        for captioned in CAPTIONED_EVENTS:
            self.bus.add(captioned, captions.on_event)

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> State:
        if self.connection is not None:
            return self.connection.state
        return State.CLOSED if self._closed else State.IDLE

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> dict[str, Any]:
        """Every part's counters, merged into one snapshot."""
        link = self.connection.stats() if self.connection else {"state": self.state.value}
        media = self.media.stats() if self.media else {}
        network = {"websocket_rtt_ms": link.pop("websocket_rtt_ms", None)}
        network.update(media.pop("media_network", {}))
        feed = self._image_feed
        return {
            **link,
            **media,
            "network": network,
            **self.uplink.stats(),
            **self.microphone.stats(),
            **(feed.stats() if feed else {}),
            **self.tool_runner.stats(),
            **self.bus.stats(),
            "turns": [report.figures() for report in self.turns.recent()],
        }

    def user_turn_ended(self, heard: str | None = None) -> int:
        """The user's turn ended now (text sent, speech sent): the turn clock starts, and a
        cut reply's silence ends (``Hush``). Returns the turn's number."""
        if self.media is not None:
            self.media.user_turn()
        return self.turns.user_turn_ended(heard)

    def cut_reply(self, by: str) -> bool:
        """The avatar is cut off (``by``: "interrupt" or "speech"): silence it here (the
        server stops a reply itself when it hears speech), mark its reply in the history and
        say so (``client.interrupted``). False when it was neither speaking nor owing a reply:
        nothing to cut."""
        media = self.media
        speaking = media.avatar_speaking if media is not None else False
        if not speaking and not self.replies.open:
            return False
        reply_open = bool(self.replies.cut())
        if by == "interrupt" and media is not None:
            media.interrupt(reply_open)
        self.bus.publish(ReplyInterrupted(by=by, speaking=speaking))
        return True

    def require_connection(self) -> Connection:
        connection = self.connection
        if connection is None:
            raise NotConnected("not connected; call connect() first")
        return connection

    def require_open(self) -> None:
        """Work that starts a thread may not start once close() has begun."""
        if self._closed:
            raise NotConnected("this client is closed")

    # ------------------------------------------------------------------ opening

    def open(self, seconds: float) -> None:
        """Make the connection and open its first session within ``seconds``. On any failure
        (Ctrl-C included) every part is closed: a client connects once."""
        with self._lock:
            if self._closed:
                raise NotConnected("this client is closed; make a new NavTalkClient")
            if self.connection is not None:
                raise NavTalkError("connect() was already called on this client")
            if len(self.tools):  # sent on open with the schemas given as tools=
                tools = (*self.settings.tools, *self.tools.schemas())
                self.settings = attrs.evolve(self.settings, tools=tools)
            self.connection = connection = Connection(
                self.settings, self.bus, self.media, self.history, self._replay_turns, self.replies
            )
        deadline = Deadline(seconds)
        try:
            self.uplink.attach(connection)
            self.bus.start()
            connection.open(seconds)
            # connect() returns once the on() callbacks have seen session.updated too; a slow
            # callback past the timeout costs the order, not a healthy session
            if not self.bus.wait_dispatched(self.bus.published, deadline.remaining()):
                log.warning("connect(): on() callbacks still running after %g s", seconds)
        except BaseException:
            self.close(self.settings.timeouts.close)
            raise

    def add_tool(self, tool: Tool) -> Tool:
        """Register ``tool``. Tools go out when a session opens, so they may be added until
        connect(); checked and added under the lock that connect() takes to send them."""
        with self._lock:
            if self.connection is not None or self._closed:
                raise NavTalkError("tools are sent when a session opens: add them before connect()")
            if any(schema["name"] == tool.name for schema in self.settings.tools):
                raise InvalidArgument(f"tools= already has a schema named {tool.name!r}")
            return self.tools.add(tool)

    # ------------------------------------------------------------------ the image feed

    def start_image_feed(self, feed: ImageFeed) -> None:
        self.require_connection()
        with self._lock:
            if self._closed:
                raise NotConnected("this client is closed")
            if self._image_feed is not None and self._image_feed.running:
                raise NavTalkError("an image feed is already running; stop_image_feed() first")
            self._image_feed = feed.start()

    def stop_image_feed(self, timeout: float) -> bool:
        with self._lock:
            feed = self._image_feed
        if feed is None:
            return False
        feed.stop(timeout)
        with self._lock:
            if self._image_feed is feed and not feed.running:
                self._image_feed = None  # a feed still in its source is stopped again later
        return True

    def image_feed(self, source: Callable[[], ImageInput | None], interval: float) -> ImageFeed:
        """A feed (not started) that sends on this client and reports its source's failures."""
        return ImageFeed(source, self._send_from_feed, interval, self.user_code_failed)

    def user_code_failed(self, fn: Callable[..., Any], error: BaseException) -> None:
        """Report a failure of user code run outside the dispatcher (it was logged already)."""
        self.bus.publish(CallbackFailure(callback=user_code.callback_name(fn), error=error))

    # ------------------------------------------------------------------ closing

    def close(self, seconds: float) -> None:
        """Close every part within ``seconds``; see ``NavTalkClient.close``."""
        deadline = Deadline(seconds)
        with self._lock:
            self._closed = True  # from now on nothing new may start
        wait = 0.0 if self.bus.in_dispatcher() else deadline.remaining()
        if not self._close_lock.acquire(timeout=wait):
            return  # another close() is at it (perhaps the one this callback holds up)
        try:
            self._shut_down(deadline)
        finally:
            self._close_lock.release()

    def _shut_down(self, deadline: Deadline) -> None:
        """Every part, in order, within ``deadline``. Each step may be run again: it then
        finishes what an earlier, interrupted or late, run left."""
        self.bus.release()  # a reader held back by a full queue must see the close
        # The recording goes first: it is the one thing a short budget would lose for good.
        # Steps that may wait on user code get a share of what is left; the socket and the
        # dispatcher get the rest. Capture stops first, then queued audio goes out while the
        # socket is still open.
        if self.media is not None:
            self.media.finish_recording(deadline.remaining(0.5))
        self.microphone.close(deadline.remaining(0.2))
        self.stop_image_feed(deadline.remaining(0.2))
        self.replies.close()  # wait_until_quiet() (and after_reply jobs in it) end now
        self.tool_runner.close(deadline.part(0.2))
        self.uplink.close(deadline.part(0.3))
        if self.connection is not None:
            self.connection.close(deadline.part(0.8))
        else:
            if self.media is not None:
                self.media.close(deadline.part(0.5))
            self.bus.end_subscriptions(NotConnected("the client is closed"))
        self.bus.stop(deadline)

    # ------------------------------------------------------------------ wiring

    def _send_tool_message(self, message: Mapping[str, Any]) -> None:
        self.require_connection().send(message)

    def _send_from_feed(self, message: Mapping[str, Any], timeout: float) -> None:
        self.require_connection().send(message, timeout)

    def _current_session(self) -> object:
        """The session now serving this client (a new one after each reconnection)."""
        connection = self.connection
        return connection.session if connection is not None else None

    def _replay_turns(self) -> tuple[str, ...]:
        """The user turns a new session replays after a reconnection: those given as
        ``history=`` (unless it was a ``History``, which ``self.history`` continues), then
        every one said since."""
        return (*self._seed_turns, *self.history.user_texts())

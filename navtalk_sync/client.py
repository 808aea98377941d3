"""``NavTalkClient``: the blocking facade a plain Python program uses.

It checks what it is given and delegates: the parts (the event bus, the connection, the media,
the user's audio, history, tools) are built, owned, closed and counted by ``ClientParts``
(parts.py). Each call here blocks with a timeout; nothing here runs on the reader thread.
"""

from __future__ import annotations

import os
import threading
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
    TypeVar,
    overload,
)

import numpy as np

from . import messages, user_code
from .audio.pcm import UPLINK_RATE, silence
from .audio.uplink import AudioStream, send_file
from .avatars import AvatarInfo, check_avatar
from .config import DEFAULT_URL, Settings
from .dispatch import Handle, Subscription
from .errors import (
    Disconnected,
    InvalidArgument,
    NavTalkError,
    NavTalkTimeout,
    NotConnected,
    raised_again,
)
from .events import (
    Event,
    IceServer,
    ResponseFailure,
    SessionEnded,
    TurnReport,
)
from .expectation import KEPT_EVENTS, Expectation
from .history import History
from .images import MIN_INTERVAL, ImageInput, to_data_url
from .logs import get_logger
from .options import AudioOptions, Limits, MediaOptions, NetworkOptions, Timeouts, record_path
from .parts import ClientParts
from .replies import ReplyCollector, reply_failed
from .retry import ReconnectPolicy
from .rtc.media import AvatarMedia, MediaState
from .rtc.video import VideoFrame
from .rtc.voice import AvatarAudio
from .selectors import describe_selector, event_matcher, event_matchers
from .session import State
from .timeouts import Deadline, check_seconds
from .tools import DEFAULT_TOOL_TIMEOUT, Tool, make_tool

if TYPE_CHECKING:
    from .rtc.recorder import RecordingSummary

__all__ = ["NavTalkClient"]

log = get_logger(__name__)

#: Seconds of silence after a spoken turn (``talk()``): OpenAI's server VAD takes a turn as over
#: after 500 ms of quiet (its default ``silence_duration_ms``); the rest is margin.
VAD_PAUSE = 0.8

F = TypeVar("F", bound=Callable[[Event], Any])


class NavTalkClient:
    """A live conversation with a NavTalk digital human, from plain synchronous code.

    Make one per session, ``connect()``, talk, ``close()`` (or use it as a context manager).
    Callbacks registered with ``on()`` run on one dispatcher thread, in arrival order.
    """

    def __init__(
        self,
        license: str | None = None,
        *,
        avatar_id: str | None = None,
        avatar_name: str | None = None,
        url: str = DEFAULT_URL,
        voice: str | None = None,
        prompt: str | None = None,
        tools: Sequence[Mapping[str, Any] | Callable[..., Any]] | None = None,
        history: History | Iterable[str | Mapping[str, Any]] | None = None,
        history_max_turns: int | None = None,
        greet_first: bool = False,
        model: str | None = None,
        timeouts: Timeouts | None = None,
        limits: Limits | None = None,
        reconnect: bool | ReconnectPolicy = False,
        media: bool | MediaOptions = True,
        audio: AudioOptions | None = None,
        network: NetworkOptions | None = None,
        **flat_settings: Any,
    ) -> None:
        """``timeouts``, ``limits``, ``media``, ``audio`` and ``network`` group the other
        settings (see
        ``navtalk_sync.options``); each of theirs may also be given flat, by its old keyword
        (``connect_timeout=5`` is ``timeouts=nt.Timeouts(connect=5)``), and then overrides
        that field of its group."""
        settings = Settings.create(
            license,
            avatar_id=avatar_id, avatar_name=avatar_name, url=url, voice=voice, prompt=prompt,
            tools=_tool_schemas(tools), history=history, history_max_turns=history_max_turns,
            greet_first=greet_first, model=model, timeouts=timeouts, limits=limits,
            reconnect=reconnect, media=media, audio=audio, network=network, **flat_settings,
        )  # fmt: skip
        self._parts = ClientParts(settings, history)
        self._ask_lock = threading.Lock()
        for function in tools or ():
            if callable(function):
                self.add_tool(function)

    def __repr__(self) -> str:
        key, value = self._parts.settings.avatar
        return f"<NavTalkClient {key}={value!r} state={self.state.value!r}>"

    # ------------------------------------------------------------------ properties

    @property
    def settings(self) -> Settings:
        return self._parts.settings

    @property
    def state(self) -> State:
        """The connection state (a ``State``, equal to its string value)."""
        return self._parts.state

    @property
    def session_id(self) -> str | None:
        """From ``conversation.connected.success``."""
        connection = self._parts.connection
        return connection.session_id if connection else None

    @property
    def ice_servers(self) -> tuple[IceServer, ...]:
        """From ``conversation.connected.success``."""
        connection = self._parts.connection
        return connection.ice_servers if connection else ()

    @property
    def error(self) -> NavTalkError | None:
        """Why the conversation ended, when it did not end by ``close()`` (None while a
        reconnection is under way)."""
        connection = self._parts.connection
        return connection.end_error if connection else None

    def stats(self) -> dict[str, Any]:
        """Counters and queue depths (a snapshot)."""
        return self._parts.stats()

    # ------------------------------------------------------------------ events

    @overload
    def on(self, what: str | type[Event]) -> Callable[[F], F]: ...

    @overload
    def on(self, what: str | type[Event], callback: Callable[[Event], Any]) -> Handle: ...

    def on(self, what: Any, callback: Any = None) -> Any:
        """Call ``callback(event)`` for every event matching ``what``.

        ``what`` is a wire name (legacy names are mapped to v2), a ``client.`` name, an Event
        class (subclasses match too) or ``"*"``. Without ``callback`` it is a decorator that
        returns the function unchanged. Returns a handle for ``off()``.
        """
        matcher = event_matcher(what)
        if callback is None:

            def register(fn: F) -> F:
                self._parts.bus.add(matcher, _callable(fn))
                return fn

            return register
        if not callable(callback):
            raise InvalidArgument(f"callback must be callable, got {callback!r}")
        return self._parts.bus.add(matcher, callback)

    def off(self, handle_or_callback: Handle | Callable[[Event], Any]) -> bool:
        """Unregister a callback (by handle, or every registration of the function)."""
        if not isinstance(handle_or_callback, Handle) and not callable(handle_or_callback):
            raise InvalidArgument(f"off() takes what on() returned or a callback, got "
                                  f"{handle_or_callback!r}")  # fmt: skip
        return self._parts.bus.remove(handle_or_callback)

    def events(
        self, what: str | type[Event] | Iterable[str | type[Event]] = "*", maxsize: int = 1000
    ) -> Subscription:
        """A subscription to the events from now on; iterate it, or ``get(timeout)`` from it.

        Iteration ends when the session ends. If more than ``maxsize`` events wait unread, the
        subscription raises ``SubscriptionOverflow`` rather than lose any silently.
        """
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise InvalidArgument(f"maxsize must be a positive integer, got {maxsize!r}")
        return self._parts.bus.subscribe(event_matchers(what), maxsize)

    def wait_for(
        self,
        what: str | type[Event] | Iterable[str | type[Event]],
        timeout: float,
        predicate: Callable[[Event], bool] | None = None,
    ) -> Event:
        """Block until the next event matching ``what`` (and ``predicate``) arrives; only
        events from now on count. To wait for the result of an action, use ``expect()``
        around it instead: an event that comes while the action runs would be missed here.

        Returns once every ``on()`` callback for that event (and the ones before it) has
        returned. Raises ``NavTalkTimeout`` after ``timeout`` seconds, or the session's end
        error if it ends first. The predicate runs in the calling thread.
        """
        check_seconds(timeout)
        with self.expect(what, predicate) as expected:
            return expected.result(timeout)

    def expect(
        self,
        what: str | type[Event] | Iterable[str | type[Event]],
        predicate: Callable[[Event], bool] | None = None,
    ) -> Expectation:
        """Start listening now for the first event matching ``what`` (as ``wait_for()`` takes
        it) and ``predicate``; ``result(timeout)`` returns it later, even if it came while
        the action that causes it was still running::

            with client.expect("conversation.item.input_audio_transcription.completed") as heard:
                client.send_file("question.wav")
            print(heard.result(timeout=30).text)

        ``result()`` raises as ``wait_for()`` does. The listening ends when the event is
        found, the session ends, the ``with`` block raises, or ``close()`` is called.
        """
        matchers = event_matchers(what)
        if predicate is not None and not callable(predicate):
            raise InvalidArgument(f"predicate must be callable or None, got {predicate!r}")
        subscription = self._parts.bus.subscribe(matchers, KEPT_EVENTS)
        return Expectation(subscription, describe_selector(what), predicate)

    # ------------------------------------------------------------------ lifecycle

    def connect(self, timeout: float | None = None) -> NavTalkClient:
        """Open the session; returns once ``realtime.session.updated`` has arrived.

        Raises a ``ServerNotice`` subclass for a notice during setup, ``ConnectionFailed`` for a
        refused handshake, ``TransportError`` for an unreachable server, ``NavTalkTimeout``.
        A client whose connect() failed (for whatever reason, Ctrl-C included) is closed: make
        a new one to try again.
        """
        settings = self._parts.settings
        self._parts.open(settings.timeouts.connect if timeout is None else check_seconds(timeout))
        return self

    def close(self, timeout: float | None = None) -> None:
        """End the session and join every thread; idempotent, callable from any thread.

        Returns within ``timeout`` seconds (default ``close_timeout``), aborting the socket if
        the server does not answer the close in time. From inside a callback it returns at once
        and the dispatcher thread ends when that callback returns. A close() that ran out of
        time or was interrupted (Ctrl-C) is finished by the next one.
        """
        settings = self._parts.settings
        self._parts.close(settings.timeouts.close if timeout is None else check_seconds(timeout))

    def __enter__(self) -> NavTalkClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ the avatar's media

    def on_video_frame(self, callback: Callable[[VideoFrame], Any]) -> Callable[[VideoFrame], Any]:
        """Call ``callback(frame)`` with the avatar's picture (a ``VideoFrame``: RGB numpy
        ``image``, ``timestamp``, ``index``) on the ``navtalk-video`` thread.

        Latest frame wins: while a callback runs, newer frames replace the one waiting, and the
        replaced ones are counted in ``stats()["video_frames_dropped"]``. Usable as a decorator.
        """
        self._require_video().video.add_callback(_callable(callback))
        return callback

    def on_avatar_audio(
        self, callback: Callable[[AvatarAudio], Any]
    ) -> Callable[[AvatarAudio], Any]:
        """Call ``callback(chunk)`` with the avatar's voice (an ``AvatarAudio``: int16 ``pcm``
        shaped ``(samples, channels)``, 48 kHz stereo, ~20 ms) on the ``navtalk-avatar-audio``
        thread, in order. Chunks more than 5 s behind are dropped and counted. Decorator too.
        """
        self._require_media().voice.add_callback(_callable(callback))
        return callback

    def off_media(self, callback: Callable[..., Any]) -> bool:
        """Unregister an ``on_video_frame`` or ``on_avatar_audio`` callback."""
        media = self._require_media()
        return media.video.remove_callback(callback) | media.voice.remove_callback(callback)

    def latest_frame(self) -> VideoFrame | None:
        """The newest picture of the avatar, or None before the first one arrived."""
        return self._require_video().video.latest()

    def wait_for_video(self, timeout: float) -> VideoFrame:
        """Block until the avatar's picture has arrived; returns the newest frame.
        ``NotConnected`` at once before ``connect()``: no picture can come."""
        timeout = check_seconds(timeout)
        media = self._require_video()
        self._parts.require_connection()
        return media.video.wait_first(timeout)

    def record(
        self,
        path: str | os.PathLike[str],
        *,
        user_audio: bool | None = None,
        subtitles: bool | None = None,
    ) -> None:
        """Record the avatar's picture and voice to ``path`` (.mp4 or .mkv) from now on.

        ``user_audio=True`` keeps the user's voice too, as a second audio stream: what went up
        the socket (microphone, files, streams), after echo cancellation. ``subtitles=True``
        writes the conversation's text beside the file as WebVTT (``call.mp4`` ->
        ``call.vtt``), and into an .mp4 as its timed-text track too: each
        user turn from the server's ``speech_started`` to its ``speech_stopped`` (a typed one
        when it was sent), each reply while its voice was heard. Both default to the
        ``record_user_audio`` and ``record_subtitles`` settings.

        Encoding runs on its own ``navtalk-recorder`` thread; ``stop_recording()`` or
        ``close()`` finishes the file.
        """
        media = self._require_media()
        checked = record_path(path, InvalidArgument)
        if checked is None:
            raise InvalidArgument("record() needs a path ending in .mp4 or .mkv, got None")
        for name, value in (("user_audio", user_audio), ("subtitles", subtitles)):
            if value is not None:
                _flag(name, value)
        self._parts.require_open()
        media.record(checked, user_audio, subtitles)

    def stop_recording(self, timeout: float = 10.0) -> RecordingSummary | None:
        """Finish the recording file (waits for the encoder); None if none was running."""
        return self._require_media().stop_recording(check_seconds(timeout))

    @property
    def media_state(self) -> MediaState:
        """The avatar media's state (see ``client.media`` events), ``"off"`` without media;
        a ``MediaState``, which compares equal to its name as a string."""
        media = self._parts.media
        return media.state if media else MediaState.OFF

    def _require_video(self) -> AvatarMedia:
        media = self._require_media()
        if not self._parts.settings.media or not self._parts.settings.media.video:
            raise NavTalkError("video=False: this client does not decode the avatar's picture")
        return media

    def _require_media(self) -> AvatarMedia:
        media = self._parts.media
        if media is None:
            raise NotConnected("this client was made with media=False")
        return media

    # ------------------------------------------------------------------ talking

    def send_message(self, message: Mapping[str, Any]) -> None:
        """Send one client message as built by ``navtalk_sync.messages`` (advanced use)."""
        kind = message.get("type") if isinstance(message, Mapping) else None
        if not isinstance(kind, str) or kind not in messages.CLIENT_MESSAGE_TYPES:
            raise InvalidArgument(
                "send_message() takes a client message from navtalk_sync.messages "
                f"(types: {', '.join(sorted(messages.CLIENT_MESSAGE_TYPES))})"
            )
        self._parts.require_connection().send(message)

    def send_text(self, text: str, respond: bool = True) -> None:
        """Say ``text`` as the user; with ``respond`` the avatar answers it
        (protocol.md#user-text, then protocol.md#response-create)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidArgument(f"text must be a non-empty string, got {text!r}")
        _flag("respond", respond)
        connection = self._parts.require_connection()
        connection.send(messages.user_text_item(text))
        self._parts.user_turn_ended(heard=text)
        if respond:
            connection.send(messages.response_create())

    def talk(
        self,
        speech: str | os.PathLike[str] | bytes | Any,
        timeout: float = 30.0,
        *,
        sample_rate: int = UPLINK_RATE,
        channels: int | None = None,
    ) -> TurnReport:
        """Say ``speech`` as the user's voice and block until the avatar has answered it: the
        spoken twin of ``ask()``. Returns the turn's ``TurnReport``: what the server heard
        (``heard``), the reply's text (``reply``) and its timings.

        ``speech`` is an audio file's path (sent paced, as ``send_file`` sends it) or samples
        with their ``sample_rate`` (as ``send_audio`` takes them). ``VAD_PAUSE`` seconds of
        silence follow it: the pause after which the server's voice activity detection takes
        the turn as over, which a recording that ends with the last word lacks. Returns once
        the reply's report is in: with media, once its voice has been heard to the end.
        Raises as ``ask()`` does, and takes turns with ``ask()``.
        """
        deadline = Deadline(check_seconds(timeout))
        if not self._ask_lock.acquire(timeout=timeout):
            raise NavTalkTimeout("an earlier ask() or talk() to finish", timeout)
        try:
            return self._talk(speech, sample_rate, channels, deadline, timeout)
        finally:
            self._ask_lock.release()

    def _talk(
        self, speech: Any, rate: int, channels: int | None, deadline: Deadline, timeout: float
    ) -> TurnReport:
        self._parts.require_connection()  # NotConnected before anything is sent
        watched = (TurnReport, ResponseFailure, SessionEnded)
        with self._parts.bus.subscribe(watched, KEPT_EVENTS) as sub:
            if isinstance(speech, (str, os.PathLike)):
                self.send_file(speech, realtime=True)
            else:
                self.send_audio(speech, rate, channels)
            self._parts.uplink.wait_sent(deadline.remaining())
            turn = self._parts.user_turn_ended()  # earlier turns' reports are not ours
            self.send_silence(VAD_PAUSE)
            late = NavTalkTimeout("the reply to talk()", timeout)
            answers = (_turn_answer(event, turn) for event in _until_answered(sub, deadline, late))
            return next(answer for answer in answers if answer is not None)

    def ask(self, text: str, timeout: float = 30.0) -> str:
        """Say ``text`` and block until the avatar's whole reply text has arrived.

        Returns the server's final transcript of the reply, or the concatenated deltas when the
        server sends no final text. Replies asked for earlier (``greet_first``, an earlier
        ``send_text``) are let pass first; calls from several threads take turns. A reply the
        server starts on its own (to speech) while ask() waits can be taken for the answer, and
        so can words a reply speaks before it calls a tool ("let me check"): the protocol has
        no end-of-response event to wait for (protocol.md#tool-calls). Raises
        ``NavTalkTimeout``, ``ResponseFailed``, or the error that ended the session (also when
        a reconnection follows: the new session does not know the question).
        """
        deadline = Deadline(check_seconds(timeout))
        if not self._ask_lock.acquire(timeout=timeout):
            raise NavTalkTimeout("an earlier ask() to finish", timeout)
        try:
            return self._ask(text, deadline, timeout)
        finally:
            self._ask_lock.release()

    def _ask(self, text: str, deadline: Deadline, timeout: float) -> str:
        watched = (*ReplyCollector.WATCHED, SessionEnded)
        self._parts.require_connection()  # NotConnected before anything is sent
        with self._parts.bus.subscribe(watched, KEPT_EVENTS) as sub:
            reply = ReplyCollector(skip=self._parts.replies.pending)
            self.send_text(text, respond=True)
            late = NavTalkTimeout("the reply to ask()", timeout)
            answers = (reply.add(event) for event in _until_answered(sub, deadline, late))
            return next(answer for answer in answers if answer is not None)

    # ------------------------------------------------------------------ the user's audio

    def send_audio(
        self, samples: Any, sample_rate: int = UPLINK_RATE, channels: int | None = None
    ) -> None:
        """Send a piece of audio as the user's voice (protocol.md#audio-format).

        ``samples``: PCM16LE bytes, or a numpy array of int16, int32, uint8, float32 or
        float64 (floats in [-1, 1], clamped), 1-D (mono, or interleaved with ``channels``) or
        ``(frames, channels)``, at ``sample_rate`` Hz. It is mixed down to mono, resampled to
        24 kHz with PyAV and sent as ``audio_chunk_samples`` pieces, in order; the last may be
        shorter. Each call is converted on its own: to stream audio in small pieces without
        clicks at their borders, use ``audio_stream()``.

        Returns once the audio is queued. The queue holds ``audio_hold_seconds``: until
        ``realtime.session.updated`` (and ICE, with ``audio_wait_for_media``) the audio waits
        in it; when it is full this call blocks up to ``send_timeout``, then raises
        ``NavTalkTimeout`` (the part queued before still goes out). Bad audio raises
        ``InvalidArgument`` and queues nothing.
        """
        self._parts.require_connection()
        stream = self._parts.uplink.stream("send_audio")
        stream.write(samples, sample_rate, channels)
        stream.flush()

    def send_file(self, path: str | os.PathLike[str], realtime: bool = True) -> float:
        """Send an audio file (WAV, MP3, OGG, FLAC... anything PyAV decodes) as the user's
        voice; blocks in the calling thread until all of it is queued.

        With ``realtime`` it is queued no faster than it plays (as a microphone would);
        without, as fast as the queue takes it. Returns its duration in seconds. A missing or
        unsupported file raises ``InvalidArgument`` before anything is sent; ``close()`` from
        another thread ends a paced send (``NotConnected``). Queueing is as in send_audio().
        """
        _flag("realtime", realtime)
        self._parts.require_connection()
        return send_file(self._parts.uplink, path, realtime)

    def send_silence(self, seconds: float) -> None:
        """Send ``seconds`` of silence (queued as send_audio() queues audio)."""
        self.send_audio(silence(seconds), UPLINK_RATE)

    def audio_stream(self, name: str = "stream") -> AudioStream:
        """A continuous stream of the user's audio, for audio that arrives in pieces.

        ``stream.write(samples, sample_rate, channels, block=True)`` converts with one
        resampler kept across writes (no clicks at piece borders) and queues whole pieces;
        ``stream.flush()`` sends the rest. Writes are thread-safe; ``block=False`` never
        waits (a full queue drops its oldest audio, counted in ``stats()``). Writes made
        before connect() wait in the queue for the session.
        """
        if not isinstance(name, str):
            raise InvalidArgument(f"name must be a string, got {name!r}")
        return self._parts.uplink.stream(name)

    def commit_audio(self, silence_tail: float = 0.35) -> None:
        """Transparency mode (``model="transparency"``): end the utterance.

        Sends ``silence_tail`` seconds of zeros (so the last word is not cut; 0 for none) and
        then ``realtime.input_audio_buffer.commit``, after all audio queued before it (see
        protocol.md#transparency).
        """
        tail = silence(silence_tail)  # a bad length is refused before anything else
        self._parts.require_connection()
        self._parts.uplink.commit(tail)

    def clear_audio(self) -> int:
        """Transparency mode: drop the audio not yet sent here, and ask the server to drop
        what it has queued (``realtime.input_audio_buffer.clear``). Returns how many queued
        pieces were dropped on this side."""
        self._parts.require_connection()
        return self._parts.uplink.clear()

    def start_microphone(
        self, device: bool | int | str | None = None, *, device_rate: int | None = None
    ) -> None:
        """Capture a PyAudio input device and send it as the user's voice, from now on.

        ``device``: None/True for the default input, an index, or (part of) a name (see
        ``nt.list_audio_devices()``). It is opened at 48 kHz when it takes it, else at a rate
        it does take (``device_rate`` forces one), read on the ``navtalk-mic`` thread,
        converted to 24 kHz mono and queued like ``audio_stream()`` audio without ever
        blocking capture (a full queue drops its oldest audio, counted). Input overflow is
        counted in ``stats()["microphone"]``, never raised. A bad device raises here
        (``InvalidArgument`` listing the inputs, or ``AudioDeviceError``). Through PulseAudio
        the first audio can take a moment to flow: start it before asking the user to speak.
        """
        self._parts.require_connection()
        self._parts.microphone.start(device, device_rate)  # NotConnected once close() has begun

    def stop_microphone(self, timeout: float = 1.0) -> bool:
        """Stop capturing (the thread is joined); False if the microphone was not on."""
        return self._parts.microphone.stop(check_seconds(timeout))

    def mute(self) -> None:
        """Mute the microphone: it goes on sending, silence instead of what it hears, so the
        server hears your speech end rather than a stream that stops mid-word."""
        self._parts.microphone.mute()

    def unmute(self) -> None:
        """Send what the microphone hears again (unless half-duplex holds it muted)."""
        self._parts.microphone.unmute()

    def interrupt(self) -> bool:
        """Stop the avatar now, from code (a stop button, a wake word): what ``speaker=`` has
        queued is dropped at once and nothing more of the reply being received is played.

        The reply's record in ``history`` is marked ``interrupted`` and a
        ``client.interrupted`` event says so (``on_avatar_audio`` players should stop on it).
        Returns False when the avatar was neither speaking nor owing a reply.

        What it does not do: tell the server. NavTalk's protocol has no message that cancels
        a reply (none of its official clients sends one), so the service goes on sending the
        reply's voice and picture, which this client does not play; the avatar's video keeps
        moving its lips until the reply's voice ends. The server stops a reply itself when it
        hears the user speak (its ``speech_started``): the one server-side interruption.
        """
        self._parts.require_connection()
        return self._parts.cut_reply("interrupt")

    def feed_echo_reference(self, pcm: np.ndarray, sample_rate: int = 48000) -> None:
        """Tell the echo canceller what your own player just sent to the loudspeaker, when
        you play the avatar's voice yourself (``on_avatar_audio``) rather than with
        ``speaker=``. Needs ``echo_cancellation=True``.

        ``pcm``: int16, shaped ``(n,)`` or ``(n, channels)`` (``AvatarAudio.pcm`` as is), at
        ``sample_rate`` (a multiple of 100 Hz). Feed it as it is played, silence included,
        from one thread: the canceller matches it against what the microphone hears a moment
        later. Does nothing while the microphone is off.
        """
        echo = self._parts.echo
        if echo is None:
            raise NavTalkError(
                "echo cancellation is off: pass echo_cancellation=True to feed its reference"
            )
        media = self._parts.settings.media
        if media is not None and media.speaker not in (None, False):
            raise NavTalkError(
                "speaker= plays the avatar and feeds the echo canceller itself; "
                "feed_echo_reference() is for applications that play it themselves"
            )
        if (
            isinstance(sample_rate, bool)
            or not isinstance(sample_rate, int)
            or not (8000 <= sample_rate <= 48000 and sample_rate % 100 == 0)
        ):
            raise InvalidArgument(
                f"sample_rate must be a multiple of 100 Hz from 8000 to 48000, not {sample_rate!r}"
            )
        echo.played(pcm, sample_rate)

    def wait_audio_sent(self, timeout: float = 10.0) -> None:
        """Block until every piece of audio queued so far has been handed to the socket."""
        self._parts.require_connection()
        self._parts.uplink.wait_sent(check_seconds(timeout))

    # ------------------------------------------------------------------ history and images

    @property
    def history(self) -> History:
        """The conversation so far (a ``History``): typed and spoken user turns, replies, tool
        calls and results, images sent, with timestamps. A ``History`` passed as ``history=``
        is its beginning. ``client.history.save(path)`` keeps it for a later client."""
        return self._parts.history

    def send_image(self, image: ImageInput, reply: bool = False) -> None:
        """Show the avatar an image (protocol.md#images): a JPEG/PNG file path, JPEG/PNG bytes,
        or a numpy ``uint8`` RGB array ``(height, width, 3)``.

        It is sent as a JPEG data URL, at most 720 px on the long side, quality about 70.
        ``reply=True`` asks the avatar to answer now; otherwise it is only added to the
        context. Bad input raises ``InvalidArgument`` and sends nothing. Converted in the
        calling thread; queued like any message (a full send queue blocks up to
        ``send_timeout``). Vision works only with OpenAI-provider avatars.
        """
        _flag("reply", reply)
        url = to_data_url(image)  # bad input is refused before anything else is looked at
        self._parts.require_connection().send(messages.input_image(url, reply=reply))

    def start_image_feed(
        self, source: Callable[[], ImageInput | None], interval: float = MIN_INTERVAL
    ) -> None:
        """Send ``source()``'s image every ``interval`` seconds (at least 2) with ``reply: 0``,
        on the ``navtalk-image`` thread, until ``stop_image_feed()`` or ``close()``.

        ``source`` returns an image (as ``send_image`` takes) or None to skip a period. A frame
        that fails (the source raises, a bad image, the session not ready, a full send queue) is
        skipped and counted in ``stats()``; a source that raises is also reported as
        ``client.callback_error``. Nothing queues up behind a slow socket.
        """
        self._parts.start_image_feed(self._parts.image_feed(source, interval))

    def stop_image_feed(self, timeout: float = 1.0) -> bool:
        """Stop the image feed (its thread is joined); False if none was running."""
        return self._parts.stop_image_feed(check_seconds(timeout))

    # ------------------------------------------------------------------ avatar lookup

    def check_avatar(self, timeout: float = 10.0, base_url: str | None = None) -> AvatarInfo:
        """Look this client's avatar up over HTTPS (optional; before ``connect()`` if you like)
        and warn (``ProviderWarning``) when its provider is not OpenAI, so tools and images
        will not work. ``base_url`` defaults to the API beside ``url`` (see ``api_url_for``).
        Raises ``AvatarNotFound`` / ``AvatarLookupFailed``."""
        return check_avatar(self._parts.settings, base_url=base_url, timeout=timeout)

    # ------------------------------------------------------------------ function calling

    @overload
    def tool(self, function: Callable[..., Any]) -> Callable[..., Any]: ...

    @overload
    def tool(
        self,
        function: None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_TOOL_TIMEOUT,
        auto_reply: bool = True,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]: ...

    def tool(self, function: Any = None, **options: Any) -> Any:
        """Decorator: ``@client.tool`` or ``@client.tool(name=..., timeout=..., ...)`` registers
        the function as a tool (see ``add_tool``) and returns it unchanged."""
        if function is not None:
            self.add_tool(function, **options)
            return function

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            self.add_tool(fn, **options)
            return fn

        return register

    def add_tool(
        self,
        function: Callable[..., Any],
        name: str | None = None,
        description: str | None = None,
        *,
        parameters: Mapping[str, Any] | None = None,
        timeout: float = DEFAULT_TOOL_TIMEOUT,
        auto_reply: bool = True,
    ) -> Tool:
        """Let the avatar call ``function`` (protocol.md#tool-calls); register tools before
        ``connect()``.

        The model is told its name, its docstring (the text before an ``Args:`` section) and
        JSON-Schema parameters from its type hints (str, int, float, bool, Literal, Enum,
        list, dict, Optional, ``Annotated[X, "description"]``; defaults make a parameter
        optional), or ``parameters`` as given. A call runs it on a ``navtalk-tool-*`` worker
        with the arguments converted to those types; its return value (JSON-encoded unless it
        is a string) goes back as a ``function_call_output``, then ``response.create`` so the
        avatar speaks about it (not with ``auto_reply=False``, for triggers such as hanging
        up). A tool that raises, runs past ``timeout`` seconds or gets arguments that do not
        fit answers the model with an error and publishes a ``client.tool_error`` event. Once
        any tool is registered, calls of unknown tools are answered ``{"status": "ignored"}``.
        """
        tool = make_tool(function, name, description, parameters, timeout, auto_reply)
        return self._parts.add_tool(tool)

    @property
    def tools(self) -> tuple[Tool, ...]:
        """The Python tools registered with ``tool`` / ``add_tool`` / ``tools=``."""
        return tuple(self._parts.tools)

    def wait_until_quiet(self, grace: float = 2.0, timeout: float = 60.0) -> None:
        """Block until the avatar has finished speaking: no reply under way or asked for, and
        ``grace`` seconds since the last one ended (``realtime.response.audio.done``), so the
        last words have played. Raises ``NavTalkTimeout`` or ``NotConnected``."""
        grace = check_seconds(grace, "grace", zero_ok=True)
        self._parts.replies.wait_quiet(grace, check_seconds(timeout))

    def after_reply(
        self, function: Callable[[], Any], grace: float = 2.0, timeout: float = 60.0
    ) -> None:
        """Call ``function()`` on a tool worker once the avatar has finished speaking (as
        ``wait_until_quiet``; also if that times out). For trigger tools, e.g. a tool that
        hangs up: ``client.after_reply(client.close)`` lets the goodbye be heard first.
        Whatever ``function`` raises is reported as ``client.callback_error``."""
        _callable(function)
        grace = check_seconds(grace, "grace", zero_ok=True)
        timeout = check_seconds(timeout)
        self._parts.require_open()

        def after_reply() -> None:
            try:
                self.wait_until_quiet(grace, timeout)
            except NavTalkTimeout:
                log.warning("after_reply(): the avatar was still speaking after %g s", timeout)
            except NotConnected:
                return  # closed meanwhile: nothing left to do it for
            function()

        after_reply.__qualname__ = user_code.callback_name(function)  # how failures name it
        self._parts.tool_runner.run_later(after_reply)


def _until_answered(sub: Subscription, deadline: Deadline, late: NavTalkTimeout) -> Iterator[Event]:
    """The events ``ask()`` or ``talk()`` waits through: ``late`` when ``deadline`` passes, the
    error that ended the session if it ends (even when a new session follows: it knows nothing
    of the question)."""
    while True:
        try:
            event = sub.get(deadline.remaining())
        except NavTalkTimeout:
            raise late from None
        if isinstance(event, SessionEnded):
            raise raised_again(_lost(event))
        yield event


def _turn_answer(event: Event, turn: int) -> TurnReport | None:
    """The report of turn ``turn``'s spoken reply, when ``event`` is it."""
    if isinstance(event, ResponseFailure):
        raise reply_failed(event)
    if isinstance(event, TurnReport) and event.turn == turn and event.reply is not None:
        return event
    return None


def _lost(event: SessionEnded) -> NavTalkError:
    """The error for a call whose session ended under it."""
    if isinstance(event.error, NavTalkError):
        return event.error
    if event.error is None:
        return NotConnected("the client was closed before the reply came")
    return Disconnected("the session ended before the reply came", event.code, event.reason)


def _tool_schemas(tools: Any) -> Any:
    """``tools=`` without its Python callables (those are registered with add_tool)."""
    if isinstance(tools, (list, tuple)):
        return [tool for tool in tools if not callable(tool)]
    return tools


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):  # "no" would read as True
        raise InvalidArgument(f"{name} must be True or False, got {value!r}")


def _callable(fn: Any) -> Any:
    if not callable(fn):
        raise InvalidArgument(f"callback must be callable, got {fn!r}")
    return fn

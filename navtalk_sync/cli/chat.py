"""``navtalk-sync chat``: an interactive session in the terminal, one line at a time.

A line is said as text and its reply streamed as it comes; ``/image PATH`` shows the avatar an
image and asks about it; ``/mute`` and ``/unmute`` the microphone (``--mic``); ``/quit`` or
end of input ends the session. The user's spoken words appear as they are transcribed.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any, TextIO

from .. import InvalidArgument, NavTalkClient, events
from .common import EXIT_DEVICE, EXIT_OK
from .connect import add_connection_arguments, session_client

COMMANDS_HELP = """commands:
  TEXT          say TEXT; the reply streams in
  /image PATH   show the avatar a JPEG or PNG and ask about it
  /mute         mute the microphone (--mic)
  /unmute       unmute it
  /help         this list
  /quit         end the session (so does end of input, Ctrl-D)"""


def register(commands: Any) -> None:
    chat = commands.add_parser(
        "chat",
        help="an interactive text and voice session (local server by default)",
        description="Talk to the avatar from the terminal: type a line to say it, and see "
        "the reply stream in and what you say into the microphone (--mic) transcribed. "
        "Without --license (or NAVTALK_LICENSE) it starts the bundled local server.\n\n"
        + COMMANDS_HELP,
        epilog="examples:\n  navtalk-sync chat\n  navtalk-sync chat --mic --no-media\n"
        "  printf 'Hello!\\n/image photo.jpg\\n/quit\\n' | navtalk-sync chat\n"
        "  NAVTALK_LICENSE=sk_navtalk_... navtalk-sync chat --avatar navtalk.Leo --mic",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_connection_arguments(chat)
    chat.add_argument(
        "--mic",
        nargs="?",
        const=True,
        default=None,
        metavar="DEVICE",
        help="also send the microphone: the default input, or an index or (part of) a name "
        "from `navtalk-sync devices`",
    )
    chat.add_argument("--reply-timeout", type=float, default=60.0, help="seconds per reply")
    chat.set_defaults(run=run_chat)


def run_chat(args: argparse.Namespace) -> int:
    with session_client(args) as client:
        transcript = _Transcript(sys.stdout)
        transcript.attach(client)
        client.connect(timeout=args.timeout)
        if args.mic is not None:
            try:
                client.start_microphone(args.mic)
            except InvalidArgument as exc:  # no such input: lists the inputs there are
                print(f"navtalk-sync: {exc}", file=sys.stderr)
                return EXIT_DEVICE
        print("connected; type a line to talk, /help for commands", flush=True)
        # Piped input is not echoed by a terminal: echo it, so the output reads as a dialogue.
        _Session(client, transcript, args, echo=not sys.stdin.isatty()).run(sys.stdin)
    return EXIT_OK


class _Session:
    """Reads lines and acts on them, one at a time: a reply is waited for before the next."""

    def __init__(
        self, client: NavTalkClient, transcript: _Transcript, args: Any, echo: bool
    ) -> None:
        self._client = client
        self._echo = echo
        self._transcript = transcript
        self._has_mic = args.mic is not None
        self._reply_timeout = args.reply_timeout

    def run(self, lines: TextIO) -> None:
        for raw in lines:
            line = raw.strip()
            if not line:
                continue
            if self._echo:
                print(f"you: {line}", flush=True)
            if line.startswith("/"):
                if not self._command(*line[1:].split(None, 1)):
                    return
            else:
                self._transcript.begin_reply()
                self._client.send_text(line)
                self._transcript.wait_reply(self._reply_timeout)

    def _command(self, name: str, argument: str = "") -> bool:
        """Run ``/name argument``; False to end the session."""
        if name == "quit":
            return False
        if name == "image":
            self._image(argument)
        elif name in ("mute", "unmute"):
            self._mute(name == "mute")
        elif name == "help":
            print(COMMANDS_HELP, flush=True)
        else:
            print(f"unknown command /{name} (/help lists them)", file=sys.stderr, flush=True)
        return True

    def _image(self, path: str) -> None:
        if not path:
            print("usage: /image PATH", file=sys.stderr, flush=True)
            return
        self._transcript.begin_reply()
        try:
            self._client.send_image(path, reply=True)
        except InvalidArgument as exc:  # unreadable or not an image: the session goes on
            print(f"cannot send {path}: {exc}", file=sys.stderr, flush=True)
            return
        print(f"[image] {path}", flush=True)
        self._transcript.wait_reply(self._reply_timeout)

    def _mute(self, mute: bool) -> None:
        if not self._has_mic:
            print("no microphone (start chat with --mic)", file=sys.stderr, flush=True)
            return
        self._client.mute() if mute else self._client.unmute()
        print("[microphone muted]" if mute else "[microphone on]", flush=True)


class _Transcript:
    """Prints the user's transcribed speech and the avatar's replies as they stream in.

    Callbacks run on the client's dispatcher thread, in arrival order; the lock keeps a reply
    line whole while the main thread prints too.
    """

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._lock = threading.Lock()
        self._streaming = False
        self._reply_done = threading.Event()

    def attach(self, client: NavTalkClient) -> None:
        client.on(events.InputTranscriptionCompleted, self._heard)
        client.on(events.ResponseTranscriptDelta, self._delta)
        client.on(events.ResponseTranscriptDone, self._done)

    def begin_reply(self) -> None:
        self._reply_done.clear()

    def wait_reply(self, timeout: float) -> None:
        if not self._reply_done.wait(timeout):
            print(f"(no reply within {timeout:g} s)", file=sys.stderr, flush=True)

    def _write(self, text: str) -> None:
        self._out.write(text)
        self._out.flush()

    def _heard(self, event: events.Event) -> None:
        assert isinstance(event, events.InputTranscriptionCompleted)
        with self._lock:
            self._write(("\n" if self._streaming else "") + f"you (spoken): {event.text}\n")
            self._streaming = False

    def _delta(self, event: events.Event) -> None:
        assert isinstance(event, events.ResponseTranscriptDelta)
        with self._lock:
            if not self._streaming:
                self._write("avatar: ")
                self._streaming = True
            self._write(event.text)

    def _done(self, event: events.Event) -> None:
        assert isinstance(event, events.ResponseTranscriptDone)
        with self._lock:
            # A reply without deltas (or whose deltas were lost) is shown whole.
            self._write("\n" if self._streaming else f"avatar: {event.text}\n")
            self._streaming = False
        self._reply_done.set()

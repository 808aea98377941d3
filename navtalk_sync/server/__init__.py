"""A NavTalk-compatible server on loopback: the demo's default peer and the tests' real peer.

Speaks the protocol (protocol.md#local-server): session setup, history, replies
from a pluggable brain, a real WebRTC offer with a drawn avatar face and its voice, an offline
voice loop (VAD, pocketsphinx recognition, eSpeak NG voice, barge-in; optional extra
``voice``), transparency mode, validation and recording of every client message, fault
injection.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import MissingExtra

if TYPE_CHECKING:
    from .app import LocalServer
    from .avatars import DEFAULT_AVATARS, Avatar
    from .brain import BrainRequest, Reply, RuleBrain
    from .ear import PocketsphinxEar, Recognizer
    from .espeak import EspeakVoice
    from .faults import Faults
    from .latency import Latency
    from .records import ConnectionInfo, MediaInfo, ReceivedMessage
    from .voice import ToneVoice, Voice

#: Where each public name lives. The names are imported when first used, so that the server's
#: plain parts (its avatars and faults, which the CLI describes) import without the server
#: extra, and a missing extra is one clear error.
_HOMES = {
    "LocalServer": ".app",
    "DEFAULT_AVATARS": ".avatars",
    "Avatar": ".avatars",
    "BrainRequest": ".brain",
    "Reply": ".brain",
    "RuleBrain": ".brain",
    "PocketsphinxEar": ".ear",
    "Recognizer": ".ear",
    "EspeakVoice": ".espeak",
    "Faults": ".faults",
    "Latency": ".latency",
    "ConnectionInfo": ".records",
    "MediaInfo": ".records",
    "ReceivedMessage": ".records",
    "ToneVoice": ".voice",
    "Voice": ".voice",
}
#: The server extra's module that the server's parts import (trustme, the other, is imported
#: by a TLS server only, and names the extra itself: certificates.py).
_SERVER_EXTRA = "websockets"


if not TYPE_CHECKING:  # for mypy the names are the imports above, and a typo is an error

    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        try:
            module = importlib.import_module(home, __name__)
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] != _SERVER_EXTRA:
                raise
            raise MissingExtra(
                f"the local server needs {_SERVER_EXTRA}, which is not installed: "
                "pip install 'navtalk-sync[server]'"
            ) from exc
        value = getattr(module, name)
        globals()[name] = value  # found once; later lookups do not come here
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "LocalServer",
    "Faults",
    "Latency",
    "Avatar",
    "Reply",
    "BrainRequest",
    "RuleBrain",
    "ReceivedMessage",
    "ConnectionInfo",
    "MediaInfo",
    "ToneVoice",
    "EspeakVoice",
    "Voice",
    "PocketsphinxEar",
    "Recognizer",
    "DEFAULT_AVATARS",
]

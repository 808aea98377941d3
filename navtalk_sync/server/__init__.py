"""A NavTalk-compatible server on loopback: the demo's default peer and the tests' real peer.

Speaks the protocol (protocol.md#local-server): session setup, history, replies
from a pluggable brain, a real WebRTC offer with a drawn avatar face and its voice, an offline
voice loop (VAD, pocketsphinx recognition, eSpeak NG voice, barge-in; optional extra
``voice``), transparency mode, validation and recording of every client message, fault
injection.
"""

from .app import LocalServer
from .avatars import DEFAULT_AVATARS, Avatar
from .brain import BrainRequest, Reply, RuleBrain
from .ear import PocketsphinxEar, Recognizer
from .espeak import EspeakVoice
from .faults import Faults
from .latency import Latency
from .records import ConnectionInfo, MediaInfo, ReceivedMessage
from .voice import ToneVoice, Voice

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

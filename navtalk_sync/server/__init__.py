"""A NavTalk-compatible server on loopback: the demo's default peer and the tests' real peer.

Speaks the contract of ``navtalk-protocol.md`` (section 16): session setup, history, replies
from a pluggable brain, validation and recording of every client message, fault injection.
"""

from .app import LocalServer
from .avatars import DEFAULT_AVATARS, Avatar
from .brain import BrainRequest, Reply, RuleBrain
from .faults import Faults
from .records import ConnectionInfo, ReceivedMessage

__all__ = [
    "LocalServer",
    "Faults",
    "Avatar",
    "Reply",
    "BrainRequest",
    "RuleBrain",
    "ReceivedMessage",
    "ConnectionInfo",
    "DEFAULT_AVATARS",
]

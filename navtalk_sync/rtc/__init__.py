"""WebRTC: the asyncio thread aiortc runs on (``loop``), and what runs there."""

from .loop import LoopThread

__all__ = ["LoopThread"]

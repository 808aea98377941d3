"""Sound devices through PyAudio: listing and choosing them, and playing the avatar's voice.

``Speaker`` plays PCM on a ``navtalk-speaker`` thread; ``list_audio_devices()`` shows what
``device=`` can name.
"""

from .devices import (
    AudioDevice,
    AudioDeviceError,
    find_input_device,
    find_output_device,
    list_audio_devices,
    supported_rate,
)
from .speaker import Speaker

__all__ = [
    "AudioDevice",
    "AudioDeviceError",
    "Speaker",
    "find_input_device",
    "find_output_device",
    "list_audio_devices",
    "supported_rate",
]

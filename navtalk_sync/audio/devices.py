"""PortAudio devices, as PyAudio sees them: listing, choosing one by spec, probing rates.

Shared by playback (``speaker.py``) and capture: every function takes the direction it is
about. A device *spec* is what a user passes as ``device=``:

- ``None`` or ``True``: the host's default device for that direction;
- an ``int``: a PortAudio device index (as in ``list_audio_devices()``);
- a ``str``: matched case-insensitively against the device names, an exact name first, else a
  part of exactly one name (``"usb"`` for ``"USB Audio Device: - (hw:1,0)"``).

PortAudio enumerates devices once, when the first ``PyAudio()`` of the process initialises it;
later ``PyAudio()`` instances see the same list until every instance is terminated. So a device
plugged in while a speaker or microphone is open appears only after all of them are closed.
"""

from __future__ import annotations

import threading
from types import ModuleType
from typing import TYPE_CHECKING

import attrs

from ..errors import AudioDeviceError, InvalidArgument
from ..logs import get_logger

if TYPE_CHECKING:
    import pyaudio

log = get_logger(__name__)

__all__ = [
    "AudioDevice",
    "AudioDeviceError",
    "DeviceSpec",
    "close_portaudio",
    "device_info",
    "find_device",
    "find_input_device",
    "find_output_device",
    "list_audio_devices",
    "open_stream",
    "OpenStream",
    "open_portaudio",
    "supported_rate",
]

#: What ``device=`` accepts: None/True (default), an index, or (part of) a name.
DeviceSpec = bool | int | str | None

#: Rates tried, in order, after the preferred rate and the device's default rate.
FALLBACK_RATES = (48000, 44100, 24000, 16000)

# PortAudio's initialise/terminate pair keeps a plain counter and rebuilds global tables: it is
# not thread-safe, and the speaker and the microphone may start on different threads.
_portaudio_lock = threading.Lock()


@attrs.frozen
class AudioDevice:
    """One PortAudio device. ``host_api`` is the host API's name (``"ALSA"``, ``"JACK..."``)."""

    index: int
    name: str
    host_api: str
    max_input_channels: int
    max_output_channels: int
    default_sample_rate: float

    @property
    def is_input(self) -> bool:
        return self.max_input_channels > 0

    @property
    def is_output(self) -> bool:
        return self.max_output_channels > 0


#: What to do when PyAudio cannot be imported.
PYAUDIO_HINT = (
    "pip install 'navtalk-sync[audio]' (on Debian or Ubuntu, apt-get install portaudio19-dev "
    "first; macOS: brew install portaudio)"
)


def pyaudio_module() -> ModuleType:
    """PyAudio, imported when a sound device is first asked for: a program that only sends
    text and files runs without it (``AudioDeviceError`` when it is missing)."""
    try:
        import pyaudio
    except ImportError as exc:  # missing, or PortAudio's library missing under it
        raise AudioDeviceError(
            f"sound devices need PyAudio, which cannot be imported ({exc}): {PYAUDIO_HINT}"
        ) from exc
    module: ModuleType = pyaudio
    return module


def open_portaudio() -> pyaudio.PyAudio:
    """A new ``PyAudio`` (initialises PortAudio); pair it with ``close_portaudio()``."""
    module = pyaudio_module()
    with _portaudio_lock:
        pa: pyaudio.PyAudio = module.PyAudio()
        return pa


def close_portaudio(pa: pyaudio.PyAudio) -> None:
    """Terminate a ``PyAudio`` from ``open_portaudio()`` (closes the streams it still has)."""
    with _portaudio_lock:
        pa.terminate()


def device_info(pa: pyaudio.PyAudio, index: int) -> AudioDevice:
    """The device at ``index`` (``InvalidArgument`` if there is none)."""
    try:
        info = pa.get_device_info_by_index(index)
    except (OSError, ValueError):
        raise InvalidArgument(f"no audio device has index {index}") from None
    try:
        host_api = str(pa.get_host_api_info_by_index(info["hostApi"])["name"])
    except (OSError, ValueError):
        host_api = str(info["hostApi"])
    return AudioDevice(
        index=int(info["index"]),
        name=str(info["name"]),
        host_api=host_api,
        max_input_channels=int(info["maxInputChannels"]),
        max_output_channels=int(info["maxOutputChannels"]),
        default_sample_rate=float(info["defaultSampleRate"]),
    )


def _all_devices(pa: pyaudio.PyAudio) -> list[AudioDevice]:
    return [device_info(pa, index) for index in range(pa.get_device_count())]


def list_audio_devices() -> list[AudioDevice]:
    """Every audio device PortAudio finds, input and output (an empty list without any)."""
    pa = open_portaudio()
    try:
        return _all_devices(pa)
    finally:
        close_portaudio(pa)


def find_output_device(pa: pyaudio.PyAudio, spec: DeviceSpec) -> int:
    """The index of the output device ``spec`` names (see the module docstring)."""
    return find_device(pa, spec, output=True)


def find_input_device(pa: pyaudio.PyAudio, spec: DeviceSpec) -> int:
    """The index of the input device ``spec`` names (see the module docstring)."""
    return find_device(pa, spec, output=False)


def find_device(pa: pyaudio.PyAudio, spec: DeviceSpec, *, output: bool) -> int:
    """The index of the device ``spec`` names for playback (``output``) or capture.

    Raises ``InvalidArgument`` naming the available devices when ``spec`` matches none (or
    several), and ``AudioDeviceError`` when a default is asked for and the host has none.
    """
    direction = "output" if output else "input"
    candidates = [d for d in _all_devices(pa) if (d.is_output if output else d.is_input)]
    if spec is None or spec is True:
        return _default_device(pa, direction, candidates)
    if spec is False:
        raise InvalidArgument(
            f"device=False names no {direction} device; use None or True for the default, "
            f"an index or a name ({_describe(candidates, direction)})"
        )
    if isinstance(spec, int):
        if any(d.index == spec for d in candidates):
            return spec
        raise InvalidArgument(
            f"there is no {direction} device with index {spec}; {_describe(candidates, direction)}"
        )
    if isinstance(spec, str):
        return _device_by_name(spec, candidates, direction)
    raise InvalidArgument(
        f"device must be None, True, an int index or a str name, not {type(spec).__name__}"
    )


def _default_device(pa: pyaudio.PyAudio, direction: str, candidates: list[AudioDevice]) -> int:
    try:
        info = (
            pa.get_default_output_device_info()
            if direction == "output"
            else pa.get_default_input_device_info()
        )
    except OSError:
        raise AudioDeviceError(
            f"there is no default {direction} device; {_describe(candidates, direction)}"
        ) from None
    return int(info["index"])


def _device_by_name(spec: str, candidates: list[AudioDevice], direction: str) -> int:
    wanted = spec.casefold()
    exact = [d for d in candidates if d.name.casefold() == wanted]
    if exact:
        return exact[0].index
    partial = [d for d in candidates if wanted in d.name.casefold()]
    if len(partial) == 1:
        return partial[0].index
    if partial:
        raise InvalidArgument(
            f"{spec!r} matches several {direction} devices: "
            f"{_names(partial)}; give a longer name or the index"
        )
    raise InvalidArgument(
        f"no {direction} device name contains {spec!r}; {_describe(candidates, direction)}"
    )


def _names(devices: list[AudioDevice]) -> str:
    return ", ".join(f"{d.index}: {d.name!r}" for d in devices)


def _describe(devices: list[AudioDevice], direction: str) -> str:
    if not devices:
        return (
            f"no {direction} devices were found (no sound card, and no ALSA, PulseAudio or "
            "JACK device configured)"
        )
    return f"available {direction} devices: {_names(devices)}"


def supported_rate(
    pa: pyaudio.PyAudio,
    index: int,
    channels: int,
    preferred: int = 48000,
    output: bool = True,
) -> int:
    """The first sample rate the device accepts for 16-bit audio with ``channels`` channels.

    Tries ``preferred``, then the device's default rate, then 48000, 44100, 24000 and 16000
    Hz. Plugin devices (ALSA ``default``, ``pulse``, ``plug``) accept almost any rate; raw
    hardware (``hw:...``) accepts only its own and refuses others with PortAudio error -9997.
    Raises ``AudioDeviceError`` when it accepts none of them.
    """
    device = device_info(pa, index)
    tried: list[int] = []
    for rate in (preferred, round(device.default_sample_rate), *FALLBACK_RATES):
        if rate in tried or rate <= 0:
            continue
        tried.append(rate)
        if _accepts(pa, index, channels, rate, output):
            return rate
    direction = "output" if output else "input"
    raise AudioDeviceError(
        f"{direction} device {device.name!r} accepts none of the rates {tried} Hz "
        f"for 16-bit audio with {channels} channel(s)"
    )


def _accepts(pa: pyaudio.PyAudio, index: int, channels: int, rate: int, output: bool) -> bool:
    # is_format_supported returns True or raises ValueError(text, PortAudio error code).
    direction = (
        {
            "output_device": index,
            "output_channels": channels,
            "output_format": pyaudio_module().paInt16,
        }
        if output
        else {
            "input_device": index,
            "input_channels": channels,
            "input_format": pyaudio_module().paInt16,
        }
    )
    try:
        return bool(pa.is_format_supported(rate, **direction))
    except ValueError:
        return False


def open_stream(
    pa: pyaudio.PyAudio,
    device: AudioDevice,
    rate: int,
    channels: int,
    frames_per_buffer: int,
    *,
    output: bool,
) -> pyaudio.Stream:
    """A PCM16 stream on ``device``; ``AudioDeviceError`` saying what was refused."""
    direction = "output" if output else "input"
    try:
        return pa.open(
            format=pyaudio_module().paInt16,
            channels=channels,
            rate=rate,
            output=output,
            input=not output,
            output_device_index=device.index if output else None,
            input_device_index=None if output else device.index,
            frames_per_buffer=frames_per_buffer,
        )
    except (OSError, ValueError) as exc:
        raise AudioDeviceError(
            f"could not open {direction} device {device.name!r} at {rate} Hz with "
            f"{channels} channel(s): {exc}"
        ) from exc


class OpenStream:
    """An open PyAudio stream with the PortAudio instance it came from (both released by
    ``release()``), and what was opened."""

    def __init__(
        self, pa: pyaudio.PyAudio, stream: pyaudio.Stream, device: AudioDevice, rate: int,
        channels: int,
    ) -> None:  # fmt: skip
        self._pa = pa
        self._stream = stream
        self.device = device
        self.rate = rate
        self.channels = channels

    def describe(self) -> str:
        return f"{self.device.name!r} at {self.rate} Hz, {self.channels} channel(s)"

    def release(self) -> None:
        """Stop and close the stream, then PortAudio, even when the device has gone."""
        try:
            self._stream.stop_stream()
            self._stream.close()
        except Exception as exc:  # the device may be gone; closing must still release it
            log.debug("closing the stream of %r: %s", self.device.name, exc)
        finally:
            close_portaudio(self._pa)

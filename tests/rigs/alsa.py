"""Virtual ALSA sound devices for the tests: a speaker that records to a file, a microphone that
plays a file. No sound card, sound server or kernel module is needed.

How it works
------------
alsa-lib reads its configuration from the files listed in ``ALSA_CONFIG_PATH`` (default: just
``/usr/share/alsa/alsa.conf``), once, when a process first opens a sound device, which for
PyAudio is the first ``PyAudio()``. ``install()`` writes a config file that declares the devices
below into a directory and points ``ALSA_CONFIG_PATH`` at ``alsa.conf`` plus that file; it must
run before anything in the process creates a ``PyAudio`` (``tests/server/conftest.py`` calls it at
import time, which is early enough).

PortAudio lists every PCM defined in the configuration by name, so PyAudio shows:

- ``navtalk_test_speaker`` (output only): a ``plug`` over a ``file`` PCM over ``null``. The
  ``file`` PCM writes everything played to ``speaker.raw`` as raw S16_LE, 48 kHz, stereo; the
  ``plug`` converts whatever rate, channel count and format a stream opens with (mono is
  copied to both channels at full level). alsa-lib empties the file whenever a stream is
  opened on the device (PortAudio's probing of devices leaves it alone): the file holds what
  the last stream played, complete once that stream is closed.
- ``navtalk_test_mic`` (input only): a ``plug`` over a ``file`` PCM whose ``infile`` is
  ``mic.raw`` (raw S16_LE, 48 kHz, mono), read from its start at every open. Capture at
  48 kHz mono delivers the file sample for sample. At any other rate the ``plug``'s converter,
  fed by a device that is never "late", loses a period near the start and a sample or more at
  each period boundary (about 5 % in all): open it at ``MIC_RATE`` and resample in Python.
  Past the end of the file the device returns stale buffer contents rather than silence, so
  ``write_mic()`` pads what it writes with silence.
- ``navtalk_raw_44k_input`` (input only): reads ``mic.raw`` too, but takes 44100 Hz only and
  refuses every other rate, like a raw ``hw:`` device (its ``plug`` names a rate converter
  that does not exist, so it can convert nothing). PortAudio reports the refusal as -9999
  where real hardware says -9997; either way ``is_format_supported`` raises.
- ``navtalk_paced_input`` (input only, declared when ``install()`` is given a PulseAudio
  socket): the ``navtalk_mic`` source of the private PulseAudio daemon of ``tests/rigs/pulse.py``,
  through the ALSA ``pulse`` plugin (Debian ``libasound2-plugins``). Paced like hardware. Its
  name holds neither "mic" nor "speaker", so partial-name lookups of the devices above stay
  unambiguous. Listed only while the daemon runs (PortAudio skips devices it cannot open).
- ``navtalk_paced_output`` (output only, declared with ``navtalk_paced_input``): the
  ``navtalk_loudspeaker`` sink of the same daemon, paced like hardware; with the rig's
  ``room()`` its sound reaches ``navtalk_paced_input`` as a loudspeaker's reaches a microphone.
- ``default``: output to the speaker above, input from the microphone above, so code that
  opens the default device in tests is recorded too (and never plays on a real card).

Neither device is paced like hardware: a write or a read returns at once, however much audio
it carries. Code under test that must run in real time has to pace itself; tests must not rely
on the device for timing.

Without a sound card alsa-lib prints a page of "cannot find card '0'" errors to stderr when
PortAudio probes the standard device names; they are harmless.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import numpy as np

#: The output device's name, and the format its file holds.
SPEAKER = "navtalk_test_speaker"
SPEAKER_RATE = 48000
SPEAKER_CHANNELS = 2

#: The input device's name, and the format its file must hold.
MIC = "navtalk_test_mic"
MIC_RATE = 48000
MIC_CHANNELS = 1

#: An input device that takes one rate only, like raw hardware (reads ``mic.raw`` as well).
RAW_INPUT = "navtalk_raw_44k_input"
RAW_INPUT_RATE = 44100

#: The paced input and output devices over the PulseAudio rig (see tests/rigs/pulse.py).
PACED_INPUT = "navtalk_paced_input"
PACED_OUTPUT = "navtalk_paced_output"

#: Where alsa-lib's own top-level configuration lives on Debian (and most distributions).
SYSTEM_CONFIG_CANDIDATES = ("/usr/share/alsa/alsa.conf", "/usr/local/share/alsa/alsa.conf")

_CONFIG_TEMPLATE = """\
# Virtual sound devices for the navtalk_sync tests (written by tests/rigs/alsa.py).

pcm.{speaker} {{
    type asym
    playback.pcm {{
        type plug
        slave {{
            pcm {{
                type file
                slave.pcm "null"
                file "{speaker_file}"
                format "raw"
            }}
            format S16_LE
            rate {speaker_rate}
            channels {speaker_channels}
        }}
    }}
}}

pcm.{mic} {{
    type asym
    capture.pcm {{
        type plug
        slave {{
            pcm {{
                type file
                slave.pcm "null"
                file "/dev/null"
                infile "{mic_file}"
                format "raw"
            }}
            format S16_LE
            rate {mic_rate}
            channels {mic_channels}
        }}
    }}
}}

pcm.{raw_input} {{
    type asym
    capture.pcm {{
        type plug
        # no such converter: the plug can convert nothing, so only the slave's rate opens
        rate_converter "navtalk_no_converter"
        slave {{
            pcm {{
                type file
                slave.pcm "null"
                file "/dev/null"
                infile "{mic_file}"
                format "raw"
            }}
            format S16_LE
            rate {raw_input_rate}
            channels {mic_channels}
        }}
    }}
}}

pcm.!default {{
    type asym
    playback.pcm "{speaker}"
    capture.pcm "{mic}"
}}
"""

_PULSE_TEMPLATE = """
pcm.{paced_input} {{
    type asym
    capture.pcm {{
        type pulse
        server "unix:{socket}"
        device "{source}"
    }}
}}

pcm.{paced_output} {{
    type asym
    playback.pcm {{
        type pulse
        server "unix:{socket}"
        device "{sink}"
    }}
}}
"""


@attrs.frozen
class AlsaRig:
    """The installed devices' files, and helpers to read and write them."""

    directory: Path
    config: Path
    speaker_file: Path
    mic_file: Path

    def read_speaker(self) -> np.ndarray:
        """What the speaker device recorded: int16 shaped (frames, 2) at 48 kHz."""
        if not self.speaker_file.exists():
            return np.zeros((0, SPEAKER_CHANNELS), np.int16)
        data = np.fromfile(self.speaker_file, dtype="<i2").astype(np.int16)
        whole = len(data) - len(data) % SPEAKER_CHANNELS
        return data[:whole].reshape(-1, SPEAKER_CHANNELS)

    def clear_speaker(self) -> None:
        """Empty the speaker's file (a stream opened later starts a fresh one anyway)."""
        self.speaker_file.write_bytes(b"")

    def write_mic(self, samples: np.ndarray, pad_seconds: float = 5.0) -> None:
        """Make the microphone device deliver ``samples`` (int16 mono at 48 kHz), then
        ``pad_seconds`` of silence. Takes effect for streams opened afterwards."""
        samples = np.asarray(samples)
        if samples.dtype != np.int16 or samples.ndim != 1:
            raise ValueError("write_mic() takes a 1-D int16 array (mono, 48 kHz)")
        padding = np.zeros(round(pad_seconds * MIC_RATE), np.int16)
        self.mic_file.write_bytes(np.concatenate([samples, padding]).astype("<i2").tobytes())

    def clear_mic(self, pad_seconds: float = 5.0) -> None:
        """Make the microphone deliver silence."""
        self.write_mic(np.zeros(0, np.int16), pad_seconds)


def system_config() -> str | None:
    """alsa-lib's top-level configuration file, or None when alsa-lib's data is missing."""
    return next((path for path in SYSTEM_CONFIG_CANDIDATES if os.path.exists(path)), None)


def install(
    directory: Path,
    pulse_socket: Path | None = None,
    pulse_source: str = "navtalk_mic",
    pulse_sink: str = "navtalk_loudspeaker",
) -> AlsaRig | None:
    """Declare the devices in ``directory`` and point ``ALSA_CONFIG_PATH`` at them.

    ``pulse_socket``: where the PulseAudio rig's daemon will listen (it need not run yet);
    when given, ``PACED_INPUT`` captures its ``pulse_source`` and ``PACED_OUTPUT`` plays to
    its ``pulse_sink``. Call before the process's first
    ``PyAudio()``. Returns None (and changes nothing) when alsa-lib's own configuration cannot
    be found.
    """
    base = system_config()
    if base is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    rig = AlsaRig(
        directory=directory,
        config=directory / "navtalk-test-devices.conf",
        speaker_file=directory / "speaker.raw",
        mic_file=directory / "mic.raw",
    )
    rig.config.write_text(
        _CONFIG_TEMPLATE.format(
            speaker=SPEAKER,
            speaker_file=_quoted(rig.speaker_file),
            speaker_rate=SPEAKER_RATE,
            speaker_channels=SPEAKER_CHANNELS,
            mic=MIC,
            mic_file=_quoted(rig.mic_file),
            mic_rate=MIC_RATE,
            mic_channels=MIC_CHANNELS,
            raw_input=RAW_INPUT,
            raw_input_rate=RAW_INPUT_RATE,
        )
        + (
            _PULSE_TEMPLATE.format(
                paced_input=PACED_INPUT,
                paced_output=PACED_OUTPUT,
                socket=_quoted(pulse_socket),
                source=pulse_source,
                sink=pulse_sink,
            )
            if pulse_socket is not None
            else ""
        )
    )
    rig.clear_speaker()
    rig.clear_mic()
    os.environ["ALSA_CONFIG_PATH"] = f"{base}:{rig.config}"
    return rig


def _quoted(path: Path) -> str:
    # The path goes between double quotes in the ALSA config syntax.
    return str(path).replace("\\", "\\\\").replace('"', '\\"')

"""``navtalk-sync devices``: the audio inputs and outputs PyAudio sees, with their default rates."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..audio.devices import AudioDevice, close_portaudio, device_info, open_portaudio
from .common import EXIT_OK


def register(commands: Any) -> None:
    devices = commands.add_parser(
        "devices",
        help="list the audio devices PyAudio sees",
        description="List every audio input and output PortAudio finds: index, name, host API, "
        "channels, default rate, and which are the defaults (*). Pass an index or (part of) a "
        "name as a device to the library (speaker=..., start_microphone(...)).",
        epilog="examples:\n  navtalk-sync devices\n  navtalk-sync devices --json | jq '.[].name'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    devices.add_argument("--json", action="store_true", help="one JSON array, for scripts")
    devices.set_defaults(run=run_devices)


def run_devices(args: argparse.Namespace) -> int:
    listed, default_input, default_output = _devices_and_defaults()
    rows = [
        _row(device, device.index == default_input, device.index == default_output)
        for device in listed
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print("no audio devices found (is PortAudio built with ALSA, and is a device present?)")
    else:
        _print_table(rows)
    return EXIT_OK


def _devices_and_defaults() -> tuple[list[AudioDevice], int | None, int | None]:
    pa = open_portaudio()
    try:
        listed = [device_info(pa, index) for index in range(pa.get_device_count())]
        return listed, _default_index(pa, "input"), _default_index(pa, "output")
    finally:
        close_portaudio(pa)


def _default_index(pa: Any, direction: str) -> int | None:
    try:
        info = getattr(pa, f"get_default_{direction}_device_info")()
    except OSError:  # no default device for this direction
        return None
    return int(info["index"])


def _row(device: AudioDevice, default_input: bool, default_output: bool) -> dict[str, Any]:
    return {
        "index": device.index,
        "name": device.name,
        "host_api": device.host_api,
        "input_channels": device.max_input_channels,
        "output_channels": device.max_output_channels,
        "default_rate": int(device.default_sample_rate),
        "default_input": default_input,
        "default_output": default_output,
    }


def _print_table(rows: list[dict[str, Any]]) -> None:
    width = max(len("name"), *(len(row["name"]) for row in rows))
    print(f"{'index':>5}  {'name':<{width}}  {'in':>3}  {'out':>3}  {'rate':>6}  default")
    for row in rows:
        marks = [m for m, on in (("input", row["default_input"]),
                                  ("output", row["default_output"])) if on]  # fmt: skip
        line = (
            f"{row['index']:>5}  {row['name']:<{width}}  {row['input_channels']:>3}  "
            f"{row['output_channels']:>3}  {row['default_rate']:>6}  "
            + ("* " + ", ".join(marks) if marks else "")
        )
        print(line.rstrip())

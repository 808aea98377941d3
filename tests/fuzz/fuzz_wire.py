"""An atheris (libFuzzer) target for the wire layer: coverage-guided fuzzing, run on demand.

It feeds bytes to the client's parser (``events.decode_frame`` + ``parse_event``) and to the
server's validation (``validate.decode`` + ``normalise``) and checks the promises written down
in ``wire_contract.py``. Any other exception is a crash: libFuzzer stops and saves the input
as ``crash-<sha1>`` in the current directory (replay it: ``fuzz_wire.py crash-<sha1>``).

Each input is used twice: as a frame (its bytes, and its UTF-8 text, which is what the socket
libraries hand over), and as a recipe (``atheris.FuzzedDataProvider``) for a JSON object built
from the keys and strings the protocol uses, sent as a frame of every known type on each side.
Random bytes are rarely JSON and the JSON decoder is C code the fuzzer cannot see into; the
recipe lets the coverage of the Python field handling guide it instead.

atheris is not a dependency of the package. It has a prebuilt wheel for CPython 3.11 on
x86_64 Linux; from the repository root::

    /tmp/venv/bin/pip install atheris
    /tmp/venv/bin/python tests/fuzz/fuzz_wire.py -runs=1000000
    /tmp/venv/bin/python tests/fuzz/fuzz_wire.py -max_total_time=300 -max_len=4096 corpus/

(any libFuzzer flag works: ``-help=1`` lists them; a directory argument keeps the corpus
between runs). The hypothesis properties for the same promises are in tests/client/test_fuzz.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root

# Only the package is instrumented: coverage of numpy or aiortc would be noise to the fuzzer.
with atheris.instrument_imports(include=["navtalk_sync"]):
    from navtalk_sync import events, messages
    from navtalk_sync.server import validate

from tests.fuzz import wire_contract

SERVER_TYPES = sorted(events.EVENT_TYPES) + sorted(events.LEGACY_NAMES)
CLIENT_TYPES = sorted(validate.ACCEPTED_TYPES)

#: Every key the parser or the validation looks up: the fuzzer builds objects from these.
FIELD_NAMES = [
    "answer", "arguments", "audio", "avatarId", "avatar_id", "callId", "call_id", "candidate",
    "code", "content", "credential", "data", "delta", "error", "function_name", "iceServers",
    "ice_servers", "id", "image_url", "instructions", "item", "message", "name", "offer",
    "output", "parameters", "prompt", "properties", "raw_data", "reply", "required",
    "responseId", "response_id", "role", "roomId", "room_id", "sdp", "sdpMLineIndex", "sdpMid",
    "sequenceNumber", "session", "sessionId", "session_id", "text", "tools", "transcript",
    "type", "url", "urls", "username", "usernameFragment", "voice",
]  # fmt: skip
#: Strings with a meaning somewhere in the protocol.
KNOWN_STRINGS = [
    *SERVER_TYPES, *CLIENT_TYPES, "", "v=0\r\n", "v=0\ns=-\n\n", "offer", "answer", "user",
    "assistant", "message", "function", "function_call_output", "input_text", "text",
    "input_image", "data:image/png;base64,AAAA", "AAAA", "AAA", "!!", "stun:127.0.0.1:3478",
    "candidate:1 1 UDP 1 127.0.0.1 9 typ host", '{"voice":"cedar"}', "[]", "{}", "[" * 2000,
]  # fmt: skip


def _value(fdp: atheris.FuzzedDataProvider, depth: int = 0) -> Any:
    """A JSON value built from the fuzzer's bytes, keys and strings mostly meaningful ones."""
    kind = fdp.ConsumeIntInRange(0, 9 if depth < 8 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 16))
    if kind == 3:
        return fdp.ConsumeFloat()  # NaN and infinities included, as json.loads accepts them
    if kind == 4:
        return fdp.ConsumeUnicode(fdp.ConsumeIntInRange(0, 64))
    if kind == 5:
        return fdp.PickValueInList(KNOWN_STRINGS)
    if kind in (6, 7):
        return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    return _object(fdp, depth + 1)


def _object(fdp: atheris.FuzzedDataProvider, depth: int = 0) -> dict[str, Any]:
    body = {}
    for _ in range(fdp.ConsumeIntInRange(0, 6)):
        key = fdp.PickValueInList(FIELD_NAMES) if fdp.ConsumeBool() else fdp.ConsumeUnicode(8)
        body[key] = _value(fdp, depth)
    return body


def test_one_input(data: bytes) -> None:
    # The bytes as a frame, and as its text (the socket libraries refuse bad UTF-8 earlier).
    wire_contract.parse_text_frame(data)
    wire_contract.parse_client_frame(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        wire_contract.parse_text_frame(text)
        wire_contract.parse_client_frame(text)
    # The bytes as a recipe for a frame of each side, checked as an object and as its text.
    fdp = atheris.FuzzedDataProvider(data)
    body = _object(fdp)
    frame = {**body, "type": fdp.PickValueInList(SERVER_TYPES)}
    wire_contract.check_event(events.parse_event(frame), frame)
    wire_contract.parse_text_frame(json.dumps(frame))
    message = {**body, "type": fdp.PickValueInList(CLIENT_TYPES)}
    wire_contract.normalise_client_message(message)
    sent = messages.encode(message)
    sent.encode("utf-8")  # what the client sends must be a valid text frame
    wire_contract.parse_client_frame(sent)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

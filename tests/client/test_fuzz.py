"""Fuzzing the wire layer: the client's event parser, the server's validation, the uplink PCM.

Properties over generated input. The promises they check live in tests/fuzz/wire_contract.py
(shared with the atheris target tests/fuzz/fuzz_wire.py); a crash is any exception that no
promise allows.

- the client's parser: any text, bytes and JSON value; near-valid frames of every known event
  type and legacy name, each field holding a value of the right or a wrong type;
- the server's validation: any text; every message messages.py builds, round-tripped through
  its frame; those messages mutated (fields replaced, deleted, added; types swapped);
- the uplink conversion (audio/pcm.py ``Converter``): any dtype, shape, rate and channel count
  gives ``InvalidArgument`` exactly when the input is invalid, else int16 mono 24 kHz audio
  of the expected length.

Each property runs a few hundred cases by default (~15 s in all). A long run sets the cases
per property (scaled by each property's weight: 15 x the number in all) and prints how many
ran (``-s``); this one is about 200,000 cases, some 25 minutes of one core (split it with
``-k`` to use more)::

    NAVTALK_FUZZ_EXAMPLES=13400 /tmp/venv/bin/python -m pytest -q -s -p no:cacheprovider \\
        --hypothesis-show-statistics tests/client/test_fuzz.py
"""

from __future__ import annotations

import base64
import collections
import copy
import functools
import json
import operator
import os
from typing import Any, Callable

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from navtalk_sync import events, messages
from navtalk_sync.audio.pcm import MAX_CHANNELS, UPLINK_RATE, Converter
from navtalk_sync.errors import InvalidArgument
from navtalk_sync.server import validate
from tests.fuzz.wire_contract import (
    check_event,
    normalise_client_message,
    parse_client_frame,
    parse_text_frame,
)
from tests.helpers import client_for

# ------------------------------------------------------------------ how many cases

#: Cases per property for a long run (0: the default, a few hundred).
LONG_RUN = int(os.environ.get("NAVTALK_FUZZ_EXAMPLES", "0") or 0)
DEFAULT_EXAMPLES = 200

settings.register_profile(
    "navtalk-fuzz",
    deadline=None,  # a 300 kB string or a resampler start is slow once, not a hang
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.filter_too_much,
    ],
)

# A hang must still fail; a long run gets time in proportion to its cases.
pytestmark = pytest.mark.timeout(60 * max(1.0, LONG_RUN / DEFAULT_EXAMPLES))

#: Cases run, per property (printed at the end of the module with ``-s``).
CASES: collections.Counter[str] = collections.Counter()


def fuzz(weight: float = 1.0) -> settings:
    """The settings of one property: ``weight`` x this run's cases per property."""
    count = max(1, round((LONG_RUN or DEFAULT_EXAMPLES) * weight))
    return settings(settings.get_profile("navtalk-fuzz"), max_examples=count)


def counted(test: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        CASES[test.__name__] += 1
        test(*args, **kwargs)

    return run


@pytest.fixture(scope="module", autouse=True)
def report_cases():
    yield
    if CASES:
        shown = ", ".join(f"{name} {count}" for name, count in sorted(CASES.items()))
        print(f"\nfuzz cases run: {sum(CASES.values())} in all ({shown})")


# ------------------------------------------------------------------ JSON of every kind

# Every code point, lone surrogates included (JSON text may carry "\ud800"), and the characters
# a JSON writer must escape.
any_char = (
    st.characters(exclude_categories=())
    | st.characters(categories=["Cs"])
    | st.sampled_from(['"', "\\", "\n", "\r", "\x00", "\u2028", "\ufeff"])
)


def _join_surrogate_pairs(text: str) -> str:
    """A high+low surrogate pair as the one character it stands for, as any JSON reader
    makes of it (lone surrogates stay): so a string survives a trip through JSON text."""
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


any_text = st.text(any_char, max_size=40).map(_join_surrogate_pairs)
huge_text = st.builds(
    operator.mul, st.sampled_from(["x", "é", "\ud800", "\U0001f600", " "]), st.integers(1, 300_000)
)
# Integers up to 4000 digits: what json.loads still accepts (it refuses more than 4300).
numbers = st.integers() | st.integers(-(10**4000), 10**4000) | st.floats()
json_values = st.recursive(
    st.none() | st.booleans() | numbers | any_text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(any_text, children, max_size=5)
    ),
    max_leaves=25,
)
deep_values = st.integers(50, 400).map(
    lambda depth: functools.reduce(lambda inner, _: [inner], range(depth), None)
)
#: A value of any type: in a field, usually the wrong one.
wrong = json_values | huge_text | deep_values


def slot(plausible: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: one of the plausible ones, or anything at all."""
    return plausible | wrong


def optional_fields(spec: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional={name: slot(value) for name, value in spec.items()})


def deep_json(depth: int, opener: str) -> str:
    """Text nested ``depth`` deep: valid JSON for ``[``, cut off after the last opener else."""
    return opener * depth + "0" + ("]" * depth if opener == "[" else "")


deep_texts = st.builds(
    deep_json,
    st.integers(1, 100_000),
    st.sampled_from(["[", '{"a":', '{"type":"realtime.status","data":', '{"content":"']),
)

# ------------------------------------------------------------------ near-valid server frames

ids = st.text(max_size=12) | st.integers(0, 2**53)
text_parts = st.lists(
    any_text
    | optional_fields(
        {"type": st.just("text"), "text": any_text, "content": any_text, "transcript": any_text}
    ),
    max_size=4,
)
texts = any_text | text_parts
sdp_text = (
    st.builds(
        lambda lines, eol, tail: eol.join(["v=0", *lines]) + tail,
        st.lists(
            st.sampled_from(["o=- 1 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=mid:0", ""]) | any_text,
            max_size=6,
        ),
        st.sampled_from(["\r\n", "\n", "\r"]),
        st.sampled_from(["", "\r\n", "\n", "\n\n", "\r\n\r\n", "\r"]),
    )
    | st.sampled_from(["", " ", "\r\n", "v=", "x=0\r\n"])
    | any_text
)
sdp_holders = sdp_text | optional_fields(
    {"type": st.sampled_from(["offer", "answer"]), "sdp": sdp_text}
)
candidate_text = st.sampled_from(["", "candidate:1 1 UDP 2122260223 127.0.0.1 40123 typ host"])
candidates = (
    candidate_text
    | any_text
    | optional_fields(
        {
            "candidate": candidate_text | any_text,
            "sdpMid": st.sampled_from(["0", "1"]),
            "sdpMLineIndex": st.integers(0, 3),
            "usernameFragment": any_text,
        }
    )
)
urls = st.sampled_from(["stun:stun.example.net:3478", "turn:127.0.0.1:3478", ""]) | any_text
ice_servers = st.lists(
    optional_fields(
        {
            "urls": st.lists(slot(urls), max_size=3) | urls,
            "url": urls,
            "username": any_text,
            "credential": any_text,
        }
    ),
    max_size=3,
)
arguments = (
    st.dictionaries(any_text, json_values, max_size=4).map(json.dumps)
    | st.dictionaries(any_text, json_values, max_size=4)
    | json_values.map(json.dumps)
    | deep_texts
    | any_text
)
audio_text = st.binary(max_size=64).map(lambda b: base64.b64encode(b).decode()) | any_text
error_objects = optional_fields({"message": texts, "code": ids})

#: Every field the parser looks for in ``data`` (protocol.md#parsing-rules), with plausible
#: values.
DATA_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "sessionId": ids, "session_id": ids, "roomId": ids, "room_id": ids,
    "iceServers": ice_servers, "ice_servers": ice_servers,
    "message": texts, "avatarId": ids, "avatar_id": ids, "id": ids,
    "sdp": sdp_holders, "offer": sdp_holders, "answer": sdp_holders, "candidate": candidates,
    "content": texts, "transcript": texts, "text": texts, "delta": texts | audio_text,
    "audio": audio_text, "response_id": ids, "responseId": ids, "call_id": ids, "callId": ids,
    "function_name": ids, "name": ids, "arguments": arguments, "error": error_objects,
    "code": ids,
}  # fmt: skip
TOP_LEVEL_FIELDS = {
    name: DATA_FIELDS[name]
    for name in ("message", "response_id", "sessionId", "session_id", "iceServers", "avatarId",
                 "sdp", "candidate", "transcript", "delta", "call_id", "name", "arguments",
                 "code")
} | {"error": error_objects | texts}  # fmt: skip
RAW_DATA_FIELDS = {name: DATA_FIELDS[name] for name in ("call_id", "name", "arguments")} | {
    "response_id": ids
}

#: Every wire name the parser knows, and names that only look like one.
WIRE_TYPES = sorted(events.EVENT_TYPES) + sorted(events.LEGACY_NAMES)
LOOKALIKE_TYPES = ["", "x", "client.state", "REALTIME.STATUS", "realtime.status ", "response"]


@st.composite
def near_valid_frames(draw: st.DrawFn) -> dict[str, Any]:
    wire_type = draw(st.sampled_from(WIRE_TYPES) | st.sampled_from(LOOKALIKE_TYPES))
    frame = {"type": wire_type, **draw(optional_fields(TOP_LEVEL_FIELDS))}
    if draw(st.booleans()):
        frame["data"] = draw(slot(optional_fields(DATA_FIELDS)))
    if draw(st.booleans()):
        frame["raw_data"] = draw(slot(optional_fields(RAW_DATA_FIELDS)))
    return frame


# ------------------------------------------------------------------ the client's parser


@fuzz(weight=3)
@given(near_valid_frames())
@example({"type": events.FunctionCallArgumentsDone.TYPE, "data": {"arguments": "[" * 5000}})
@counted
def test_near_valid_frames_parse_to_their_own_class(frame):
    event = events.parse_event(frame)
    check_event(event, frame)
    through_text = parse_text_frame(json.dumps(frame))
    assert type(through_text) is type(event)


@fuzz()
@given(json_values | st.dictionaries(st.sampled_from(["type", "data", "raw_data"]), wrong))
@counted
def test_any_json_value_is_an_event(value):
    check_event(events.parse_event(value), value)


JSON_TOKENS = st.sampled_from(
    ["{", "}", "[", "]", ":", ",", " ", '"', '"type"', '"data"', '"raw_data"', '"content"',
     '"arguments"', '"sdp"', '"candidate"', "null", "true", "0", "-0", "1e999999", "NaN",
     "Infinity", "-Infinity", '"\\ud800"', '"\\u0000"', '"v=0\\n"']
    + [json.dumps(name) for name in WIRE_TYPES[:6]]
)  # fmt: skip


@st.composite
def duplicate_key_frames(draw: st.DrawFn) -> str:
    """An object text whose keys repeat (``json.loads`` keeps the last one)."""
    keys = st.sampled_from(["type", "data", "raw_data", "type"])
    values = st.sampled_from(WIRE_TYPES) | optional_fields(DATA_FIELDS) | wrong
    pairs = draw(st.lists(st.tuples(keys, values), min_size=2, max_size=6))
    return "{" + ",".join(f"{json.dumps(k)}:{json.dumps(v)}" for k, v in pairs) + "}"


@st.composite
def spliced_frames(draw: st.DrawFn) -> str:
    """A near-valid frame's text with a piece cut out or replaced: broken JSON, mostly."""
    text = json.dumps(draw(near_valid_frames()))
    start = draw(st.integers(0, len(text)))
    end = draw(st.integers(start, len(text)))
    return text[:start] + draw(st.text(any_char, max_size=4) | JSON_TOKENS) + text[end:]


frame_texts = st.one_of(
    st.text(any_char, max_size=200),
    st.binary(max_size=200),
    json_values.map(json.dumps),
    st.lists(JSON_TOKENS, max_size=40).map("".join),
    duplicate_key_frames(),
    spliced_frames(),
    deep_texts,
    st.builds(
        '{{"type":"realtime.response.audio.done","data":{{"id":{}}}}}'.format,
        st.integers(1, 6000).map(lambda n: "9" * n) | st.sampled_from(["1e400", "-1e-400"]),
    ),
)


@fuzz(weight=2)
@given(frame_texts)
@counted
def test_any_text_is_refused_or_parsed(text):
    parse_text_frame(text)


# ------------------------------------------------------------------ the server's validation

tool_names = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
tools = st.lists(
    st.builds(
        lambda name, description, params, required: {
            "type": "function",
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {p: {"type": kind} for p, kind in params.items()},
                "required": sorted(params)[:required],
            },
        },
        tool_names,
        any_text,
        st.dictionaries(
            tool_names, st.sampled_from(["string", "integer", "number", "boolean"]), max_size=3
        ),
        st.integers(0, 3),
    ),
    max_size=3,
)
maybe_text = st.none() | any_text
sdp_offers = st.builds(lambda rest: "v=0\r\n" + rest, any_text)
data_urls = st.builds(
    lambda kind, payload: f"data:image/{kind};base64,{base64.b64encode(payload).decode()}",
    st.sampled_from(["jpeg", "png", "webp"]),
    st.binary(max_size=32),
)
pcm_bytes = st.binary(max_size=256).map(lambda b: b[: len(b) // 2 * 2])


def _config(voice, prompt, tool_list):
    return messages.input_config(voice, prompt, tool_list), validate.ConfigUpdate(
        source=messages.INPUT_CONFIG, voice=voice, prompt=prompt, tools=tuple(tool_list) or None
    )


def _output(call_id, output):
    text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    return messages.function_call_output(call_id, output), validate.FunctionOutput(call_id, text)


#: (message as messages.py builds it, what validate.normalise must make of it)
built_messages = st.one_of(
    st.builds(_config, maybe_text, maybe_text, tools),
    st.builds(
        lambda t: (
            messages.input_function_call(t),
            validate.ConfigUpdate(source=messages.INPUT_FUNCTION_CALL, tools=tuple(t)),
        ),
        tools,
    ),
    st.builds(
        lambda text: (
            messages.user_text_item(text),
            validate.ConversationItem(role="user", text=text),
        ),
        any_text | huge_text,
    ),
    st.builds(_output, any_text.filter(bool), json_values),
    st.just((messages.response_create(), validate.ResponseCreate())),
    st.builds(
        lambda pcm: (messages.audio_append(pcm), validate.AudioAppend(size=len(pcm), pcm=pcm)),
        pcm_bytes,
    ),
    st.just((messages.audio_commit(), validate.AudioCommit())),
    st.just((messages.audio_clear(), validate.AudioClear())),
    st.builds(
        lambda url, reply: (messages.input_image(url, reply), validate.ImageInput(url, reply)),
        data_urls,
        st.booleans(),
    ),
    st.builds(
        lambda sdp: (messages.signaling_answer(sdp), validate.SignalingSdp("answer", sdp)),
        sdp_offers,
    ),
    st.builds(
        lambda sdp: (messages.signaling_offer(sdp), validate.SignalingSdp("offer", sdp)),
        sdp_offers,
    ),
    st.builds(
        lambda c, mid, index, ufrag: (
            messages.signaling_ice_candidate(c, mid, index, ufrag),
            validate.IceCandidate(c, mid, index),
        ),
        candidate_text | any_text,
        maybe_text,
        st.none() | st.integers(0, 2**31),
        maybe_text,
    ),
)


def as_the_server_reads(value: Any) -> Any:
    """``value`` with its lone surrogates as U+FFFD, which validate.decode makes of them."""
    if isinstance(value, str):
        return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if isinstance(value, (list, tuple)):
        return type(value)(map(as_the_server_reads, value))
    if isinstance(value, dict):
        return {as_the_server_reads(k): as_the_server_reads(v) for k, v in value.items()}
    if attrs.has(type(value)):
        fields = attrs.fields(type(value))
        return attrs.evolve(
            value, **{f.name: as_the_server_reads(getattr(value, f.name)) for f in fields}
        )
    return value


@fuzz(weight=2)
@given(built_messages)
@example((messages.user_text_item("\ud800"), validate.ConversationItem("user", "\ud800")))
@counted
def test_every_built_message_is_a_valid_frame_and_round_trips(case):
    message, expected = case
    text = messages.encode(message)
    text.encode("utf-8")  # a text frame must be UTF-8, or the socket library raises
    assert parse_client_frame(text) == as_the_server_reads(expected)


def test_surrogates_reach_the_server_as_unicode():
    # A pair is the character it stands for (as in JSON); a lone one cannot be sent on as it
    # is (not in a reply frame, a log line or speech), so the server reads U+FFFD.
    frame = messages.encode(messages.user_text_item("smile \ud83d\ude00, lone \udc00"))
    assert parse_client_frame(frame.encode("utf-8").decode("utf-8")) == validate.ConversationItem(
        role="user", text="smile \U0001f600, lone \ufffd"
    )


def test_a_lone_surrogate_in_a_question_is_answered_and_the_session_goes_on(make_server):
    # Found by the fuzzing: the client's frame was not UTF-8, so its writer thread died and
    # every later call timed out; the server, echoing the text back, lost the connection.
    with client_for(make_server()) as client:
        client.connect(timeout=10)
        assert client.ask("book \ud800 now", timeout=10) == "You said: book \ufffd now."
        assert client.ask("still there?", timeout=10) == "You said: still there?"


@fuzz()
@given(maybe_text, maybe_text, tools)
@counted
def test_opening_messages_are_accepted(voice, prompt, tool_list):
    opening = messages.opening_messages(voice, prompt, tool_list)
    results = [parse_client_frame(messages.encode(m)) for m in opening]
    assert len(results) <= 1 and None not in results
    configured = voice is not None or prompt is not None or bool(tool_list)
    assert bool(results) == configured
    if results:
        (config,) = results
        assert config == as_the_server_reads(
            attrs.evolve(config, voice=voice, prompt=prompt, tools=tuple(tool_list) or None)
        )


def _places(value: Any) -> list[tuple[Any, Any]]:
    """Every (container, key or index) inside a message: where a mutation can land."""
    found = []
    children = value.items() if isinstance(value, dict) else enumerate(value)
    for key, child in children:
        found.append((value, key))
        if isinstance(child, (dict, list)):
            found.extend(_places(child))
    return found


CLIENT_TYPES = sorted(validate.ACCEPTED_TYPES)
FIELD_NAMES = ["type", "data", "item", "session", "audio", "sdp", "content", "candidate",
               "text", "call_id", "output", "role", "reply", "tools", "sequenceNumber"]  # fmt: skip


@st.composite
def mutated_messages(draw: st.DrawFn) -> dict[str, Any]:
    message = copy.deepcopy(draw(built_messages)[0])  # st.just() hands out one shared dict
    data = message.get("data")
    opened = isinstance(data, dict) and isinstance(data.get("content"), str)
    if opened and draw(st.booleans()):  # mutate inside the JSON text of data.content too
        try:
            data["content"] = json.loads(data["content"])
        except ValueError:
            opened = False
    for _ in range(draw(st.integers(1, 3))):
        places = _places(message)
        action = draw(st.sampled_from(["replace", "delete", "add", "retype"]))
        if action == "retype" or not places:
            message["type"] = draw(st.sampled_from(CLIENT_TYPES) | st.sampled_from(WIRE_TYPES))
            continue
        container, key = draw(st.sampled_from(places))
        if action == "replace":
            container[key] = draw(wrong)
        elif action == "delete":
            del container[key]
        elif isinstance(container, dict):
            container[draw(st.sampled_from(FIELD_NAMES))] = draw(wrong)
        else:
            container.insert(key, draw(wrong))
    data = message.get("data")
    if opened and isinstance(data, dict) and draw(st.booleans()):
        data["content"] = json.dumps(data.get("content"))
    return message


@fuzz(weight=3)
@given(mutated_messages())
@example(
    {"type": messages.INPUT_FUNCTION_CALL, "data": {"content": json.dumps([{"name": "\ud800"}])}}
)
@counted
def test_mutated_messages_are_refused_or_normalised(message):
    result = normalise_client_message(message)
    assert type(parse_client_frame(messages.encode(message))) is type(result)


client_frame_texts = (
    frame_texts
    | mutated_messages().map(messages.encode)
    | st.builds(
        lambda kind, depth: messages.encode(
            {"type": kind, "data": {"content": deep_json(depth, "[")}}
        ),
        st.sampled_from([messages.INPUT_CONFIG, messages.INPUT_FUNCTION_CALL]),
        st.integers(1, 100_000),
    )
)


@fuzz(weight=2)
@given(client_frame_texts)
@example("[" * 100_000)
@example(messages.encode({"type": messages.INPUT_CONFIG, "data": {"content": "[" * 100_000}}))
@counted
def test_any_client_frame_is_refused_or_normalised(raw):
    parse_client_frame(raw)


# ------------------------------------------------------------------ uplink PCM conversion

ACCEPTED_DTYPES = [
    np.dtype(d) for d in ("<i2", ">i2", "<i4", ">i4", "u1", "<f4", ">f4", "<f8", ">f8")
]
REFUSED_DTYPES = [np.dtype(d) for d in ("f2", "i1", "<i8", "<u2", "<u4", "?", "c8")]


def _reference_mono(frames: np.ndarray) -> np.ndarray:
    """The documented conversion to [-1, 1] mono, in float64, written out independently:
    integers scaled, the mean of the channels, then clamped (so floats clamp after the mean)."""
    return np.clip(_reference_float(frames).mean(axis=1), -1.0, 1.0)


def _reference_float(array: np.ndarray) -> np.ndarray:
    values = array.astype(np.float64)
    if array.dtype.kind == "f":
        return values
    if array.dtype.itemsize == 2:
        return np.where(values < 0, values / 32768, values / 32767)
    if array.dtype.itemsize == 4:
        return values / 2**31
    return (values - 128) / 128


def _refusal_expected(audio: Any, rate: Any, channels: Any) -> bool:
    """Whether ``Converter.convert`` must refuse this input (``to_float_frames``' contract)."""

    def whole(value: Any, low: int, high: int) -> bool:
        return (
            isinstance(value, (int, np.integer))
            and not isinstance(value, bool)
            and (low <= value <= high)
        )

    if not whole(rate, 1000, 768_000) or not (channels is None or whole(channels, 1, MAX_CHANNELS)):
        return True
    if isinstance(audio, (bytes, bytearray)):
        if len(audio) % 2:
            return True
        audio = np.frombuffer(bytes(audio), "<i2")
    if audio.dtype not in ACCEPTED_DTYPES or audio.ndim not in (1, 2):
        return True
    if audio.ndim == 1 and audio.size % (channels or 1):
        return True
    if audio.ndim == 2 and not (
        1 <= audio.shape[1] <= MAX_CHANNELS and channels in (None, audio.shape[1])
    ):
        return True
    # Floats must stay finite as float32: a float64 beyond float32's range is refused too.
    with np.errstate(over="ignore", invalid="ignore"):
        return audio.dtype.kind == "f" and not np.isfinite(audio.astype(np.float32)).all()


@st.composite
def uplink_audio(draw: st.DrawFn) -> np.ndarray | bytes | bytearray:
    if draw(st.integers(0, 9)) == 0:
        raw = draw(st.binary(max_size=2000))
        return bytearray(raw) if draw(st.booleans()) else raw
    dtype = draw(st.sampled_from(ACCEPTED_DTYPES) | st.sampled_from(REFUSED_DTYPES))
    shape = draw(
        st.tuples(st.integers(0, 3000))
        | st.tuples(st.integers(0, 3000), st.integers(1, 4))
        | hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=40)
    )
    elements = None  # hypothesis' default: every value of the dtype (NaN, inf, 1e308, ...)
    if dtype.kind == "f" and draw(st.integers(0, 3)):
        elements = st.floats(-1.5, 1.5, width=32)
    array = draw(hnp.arrays(dtype, shape, elements=elements))
    if array.ndim and draw(st.booleans()):
        array = array[::2]  # a strided view, not a contiguous array
    return array


rates = st.one_of(
    st.sampled_from([8000, 16000, 22050, 24000, 44100, 48000]),
    st.integers(1000, 768_000),
    st.integers(1000, 768_000).map(np.int64),
    st.integers(-10, 999) | st.integers(768_001, 10**7) | st.sampled_from([True, 24000.0]),
)
channel_counts = st.none() | st.integers(1, 4) | st.integers(-1, MAX_CHANNELS + 2) | st.just(2.0)


# numpy warns about absurd floats (beyond float32's range when cast, or summed to overflow).
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@fuzz()
@given(uplink_audio(), rates, channel_counts, st.lists(st.floats(0, 1), max_size=6))
@example(np.array([[3e38, 3e38, -3e38, -3e38]] * 40, np.float32), 24_000, None, [0.5])
@example(np.zeros(20, np.int16), 8000, None, [])  # 60 samples expected, none come out
@counted
def test_uplink_conversion_refuses_or_gives_24k_mono_int16(audio, rate, channels, cuts):
    converter = Converter()
    if _refusal_expected(audio, rate, channels):
        with pytest.raises(InvalidArgument):
            converter.convert(audio, rate, channels)
        return
    array = np.frombuffer(bytes(audio), "<i2") if isinstance(audio, (bytes, bytearray)) else audio
    frames = array.reshape(-1, channels or 1) if array.ndim == 1 else array
    # Cut the stream into pieces at frame borders: each piece is valid on its own.
    borders = sorted({round(c * len(frames)) for c in cuts})
    outputs = [
        converter.convert(piece.reshape(-1) if array.ndim == 1 else piece, rate, channels)
        for piece in np.split(frames, borders)
    ]
    outputs.append(converter.finish())
    assert all(out.dtype == np.int16 and out.ndim == 1 for out in outputs)
    out = np.concatenate(outputs)
    reference = _reference_mono(frames)
    # Floats near float32's limit overflow the float32 channel mean: garbage in, garbage out.
    sane = frames.dtype.kind != "f" or np.abs(frames).max(initial=0) < 1e30
    if rate == UPLINK_RATE:
        assert len(out) == len(frames)
        if sane:
            scaled = np.where(reference < 0, reference * 32768, reference * 32767)
            assert np.abs(out - scaled).max(initial=0) <= 1
        return
    expected = len(frames) * UPLINK_RATE / rate
    if min(len(frames), expected) >= 32:
        assert abs(len(out) - expected) <= 1, f"{len(out)} samples, expected {expected:.1f}"
    else:  # a stream shorter than the resampler's filter may come out empty (libswresample)
        assert len(out) <= expected + 1
    if not reference.any():
        assert not out.any(), "silence in, sound out"

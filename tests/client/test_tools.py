"""Function calling (protocol.md#tool-calls): Python callables as tools, called by the server."""

from __future__ import annotations

import enum
import json
import threading
from typing import Annotated, Literal, Optional

import pytest

import navtalk_sync as nt
from navtalk_sync import events as ev
from navtalk_sync.server.tool_rule import choose_tool
from tests.helpers import client_for, wait_until

pytestmark = pytest.mark.timeout(60)

CALL_DONE = "realtime.response.function_call_arguments.done"


class Area(enum.Enum):
    INSIDE = "inside"
    TERRACE = "terrace"


def book_table(
    guests: int,
    time: str,
    area: Area = Area.INSIDE,
    name: Optional[str] = None,  # noqa: UP045 (the typing spelling is supported too)
    notes: list[str] | None = None,
    meal: Literal["lunch", "dinner"] = "dinner",
    budget: Annotated[float, "Most the guests will spend, in euros"] = 0.0,
) -> dict:
    """Book a table at the restaurant.

    Args:
        guests: How many people come.
        time (str): When they come, e.g. 7pm.
    """
    return {"table": 12, "guests": guests, "time": time, "area": area.value}


def outputs(server) -> list[dict]:
    """The function_call_output items the server received, in order."""
    items = [m.message["item"] for m in server.messages("conversation.item.create")]
    return [item for item in items if item["type"] == "function_call_output"]


def call_frame(name: str, call_id: str, arguments) -> dict:
    return {"type": CALL_DONE, "data": {"function_name": name, "call_id": call_id,
                                        "arguments": arguments}}  # fmt: skip


# ------------------------------------------------------------------ the schema


def test_the_schema_comes_from_the_name_docstring_and_type_hints():
    client = nt.NavTalkClient("sk_test", avatar_name="navtalk.Leo")
    tool = client.add_tool(book_table)
    assert tool.schema() == {
        "type": "function",
        "name": "book_table",
        "description": "Book a table at the restaurant.",
        "parameters": {
            "type": "object",
            "properties": {
                "guests": {"type": "integer", "description": "How many people come."},
                "time": {"type": "string", "description": "When they come, e.g. 7pm."},
                "area": {"type": "string", "enum": ["inside", "terrace"]},
                "name": {"type": "string"},
                "notes": {"type": "array", "items": {"type": "string"}},
                "meal": {"type": "string", "enum": ["lunch", "dinner"]},
                "budget": {"type": "number", "description": "Most the guests will spend, in euros"},
            },
            "required": ["guests", "time"],
        },
    }
    assert client.tools == (tool,)
    client.close()


def test_an_explicit_schema_name_and_description_override_what_is_derived():
    client = nt.NavTalkClient("sk_test", avatar_name="navtalk.Leo")
    schema = {"type": "object", "properties": {"reason": {"type": "string"}}, "required": []}

    @client.tool(name="end_call", description="Hang up.", parameters=schema, auto_reply=False)
    def hang_up(**arguments):
        return "ok"

    (tool,) = client.tools
    assert tool.schema() == {"type": "function", "name": "end_call", "description": "Hang up.",
                             "parameters": schema}  # fmt: skip
    assert tool.auto_reply is False
    client.close()


@pytest.mark.parametrize(
    ("function", "options", "complaint"),
    [
        (lambda x: x, {}, "tool name"),
        (book_table, {"name": "has space"}, "tool name"),
        (book_table, {"timeout": 0}, "timeout"),
        (book_table, {"parameters": {"type": "array"}}, "JSON-Schema object"),
        ("not callable", {}, "callable"),
    ],
)
def test_bad_tools_are_refused_with_a_clear_message(function, options, complaint):
    client = nt.NavTalkClient("sk_test", avatar_name="navtalk.Leo")
    with pytest.raises(nt.InvalidArgument, match=complaint):
        client.add_tool(function, **options)
    client.close()


def test_types_that_cannot_be_described_are_refused():
    def takes_bytes(data: bytes) -> None:
        """Nope."""

    def takes_union(value: int | str) -> None:
        """Nope."""

    client = nt.NavTalkClient("sk_test", avatar_name="navtalk.Leo")
    with pytest.raises(nt.InvalidArgument, match="'data'.*parameters="):
        client.add_tool(takes_bytes)
    with pytest.raises(nt.InvalidArgument, match="unions"):
        client.add_tool(takes_union)
    client.add_tool(book_table)
    with pytest.raises(nt.InvalidArgument, match="already registered"):
        client.add_tool(book_table)
    client.close()


# ------------------------------------------------------------------ sent on open


def test_tools_alone_go_in_input_function_call_on_open(server):
    with client_for(server, media=False, tools=[book_table]) as client:
        client.connect(timeout=10)
        with pytest.raises(nt.NavTalkError, match="before connect"):
            client.add_tool(lambda: None, name="late")
    (sent,) = server.messages("realtime.input_function_call")
    assert [t["name"] for t in json.loads(sent.message["data"]["content"])] == ["book_table"]
    assert server.messages("realtime.input_config") == []


def test_with_a_prompt_the_tools_go_inside_input_config_and_never_both(server):
    schema_only = {"name": "lookup_order", "description": "Find an order.",
                   "parameters": {"type": "object", "properties": {}}}  # fmt: skip
    client = client_for(server, media=False, prompt="Be brief.", tools=[schema_only])
    client.add_tool(book_table)
    with client:
        client.connect(timeout=10)
    (sent,) = server.messages("realtime.input_config")
    config = json.loads(sent.message["data"]["content"])
    assert config["prompt"] == "Be brief."
    assert [t["name"] for t in config["tools"]] == ["lookup_order", "book_table"]
    assert server.messages("realtime.input_function_call") == []


# ------------------------------------------------------------------ calls from the server


def test_the_server_calls_a_typed_tool_and_the_next_reply_contains_its_result(server):
    seen = []

    def book(guests: int, time: str, area: Area = Area.INSIDE) -> str:
        """Book a table."""
        seen.append((guests, time, area, threading.current_thread().name))
        return f"Table 12 is booked for {guests} people at {time}"

    with client_for(server, media=False) as client:
        client.add_tool(book, name="book_table")
        client.connect(timeout=10)
        reply = client.ask("Please book a table for 4 at 7pm on the terrace", timeout=20)
        history = [(t.role, t.kind) for t in client.history]
    assert "Table 12 is booked for 4 people at 7pm" in reply
    assert seen[0][:3] == (4, "7pm", Area.TERRACE)  # converted from JSON to the hinted types
    assert seen[0][3].startswith("navtalk-tool-")
    (output,) = outputs(server)
    assert output["output"] == "Table 12 is booked for 4 people at 7pm"
    created = [m.type for m in server.messages()][-2:]
    assert created == ["conversation.item.create", "response.create"]
    assert ("assistant", "reply") in history


def test_a_non_string_result_is_sent_as_json(server):
    with client_for(server, media=False, tools=[book_table]) as client:
        client.connect(timeout=10)
        reply = client.ask("book a table for two at 8pm", timeout=20)
    (output,) = outputs(server)
    assert json.loads(output["output"]) == {"table": 12, "guests": 2, "time": "8pm",
                                            "area": "inside"}  # fmt: skip
    assert "table 12" in reply


def test_a_raising_tool_answers_the_model_with_the_error_and_reports_it(server):
    def book_table(guests: int) -> str:
        """Book a table."""
        raise RuntimeError("the restaurant is full")

    with client_for(server, media=False, tools=[book_table]) as client:
        with client.events("client.tool_error") as errors:
            client.connect(timeout=10)
            reply = client.ask("book a table for 3", timeout=20)
            error = errors.get(timeout=5)
    assert isinstance(error, ev.ToolFailure)
    assert (error.name, error.kind) == ("book_table", "raised")
    assert isinstance(error.error, RuntimeError)
    (output,) = outputs(server)
    assert json.loads(output["output"]) == {
        "status": "error", "error": "RuntimeError: the restaurant is full"
    }  # fmt: skip
    assert "the restaurant is full" in reply


def test_a_slow_tool_times_out_and_its_late_result_is_dropped(server):
    release = threading.Event()

    def book_table(guests: int) -> str:
        """Book a table."""
        release.wait(10)
        return "too late"

    with client_for(server, media=False) as client:
        client.add_tool(book_table, timeout=0.3)
        with client.events("client.tool_error") as errors:
            client.connect(timeout=10)
            reply = client.ask("book a table for 3", timeout=20)
            assert errors.get(timeout=5).kind == "timeout"
        release.set()
        wait_until(lambda: client.stats()["tool_late_results"] == 1)
    assert "did not finish within 0.3 s" in reply
    assert len(outputs(server)) == 1


def test_a_long_tool_holds_up_neither_events_nor_callbacks(server):
    """The tool waits for a callback that needs the next reply: it would never come if the
    tool ran on the dispatcher (or the reader)."""
    next_reply_seen = threading.Event()

    def book_table(guests: int) -> str:
        """Book a table."""
        assert next_reply_seen.wait(15), "callbacks were held up by the tool"
        return "booked after all"

    with client_for(server, media=False, tools=[book_table]) as client:
        client.on("realtime.response.audio_transcript.done", lambda e: next_reply_seen.set())
        client.connect(timeout=10)
        with client.events(ev.ResponseTranscriptDone) as replies:
            client.send_text("book a table for 2")
            assert client.ask("hello", timeout=20) == "Hello! Nice to meet you."
            texts = [replies.get(timeout=20).text for _ in range(2)]
    assert texts[0] == "Hello! Nice to meet you."
    assert "booked after all" in texts[1]


def test_an_unknown_tool_gets_an_ignored_answer(server):
    with client_for(server, media=False, tools=[book_table]) as client:
        with client.events("client.tool_error") as errors:
            client.connect(timeout=10)
            server.send_event(call_frame("launch_rocket", "call_u", "{}"))
            error = errors.get(timeout=10)
        wait_until(lambda: len(outputs(server)) == 1)
    assert (error.kind, error.name, error.call_id) == ("unknown", "launch_rocket", "call_u")
    (output,) = outputs(server)
    assert output["call_id"] == "call_u"
    assert json.loads(output["output"])["status"] == "ignored"


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        ("{not json", "not a JSON object"),
        ('["a list"]', "not a JSON object"),
        ({"guests": "many", "time": "7pm"}, "argument 'guests': expected an integer"),
        ({"time": "7pm"}, "missing required argument(s) guests"),
        ({"guests": 2, "time": "7pm", "colour": "red"}, "unknown argument(s) colour"),
    ],
)
def test_malformed_arguments_get_an_error_output_and_the_tool_does_not_run(
    server, arguments, complaint
):
    ran = []
    with client_for(server, media=False) as client:

        @client.tool
        def book_table(guests: int, time: str) -> None:
            """Book a table."""
            ran.append(guests)

        with client.events("client.tool_error") as errors:
            client.connect(timeout=10)
            server.send_event(call_frame("book_table", "call_m", arguments))
            error = errors.get(timeout=10)
        wait_until(lambda: len(outputs(server)) == 1)
    assert error.kind == "bad_arguments" and complaint in error.message
    assert complaint in json.loads(outputs(server)[0]["output"])["error"]
    assert ran == []


def test_arguments_sent_only_as_deltas_are_put_together(server):
    got = []
    with client_for(server, media=False) as client:
        client.add_tool(lambda order_no: got.append(order_no) or "shipped", name="lookup_order")
        client.connect(timeout=10)
        for piece in ['{"order', '_no": "A-', '1042"}']:
            server.send_event({"type": "realtime.response.function_call_arguments.delta",
                               "data": {"call_id": "call_d", "delta": piece}})  # fmt: skip
        server.send_event({"type": CALL_DONE, "data": {"name": "lookup_order",
                                                       "call_id": "call_d"}})  # fmt: skip
        wait_until(lambda: len(outputs(server)) == 1)
    assert got == ["A-1042"]


def test_without_auto_reply_the_result_is_sent_without_response_create(server):
    with client_for(server, media=False) as client:
        client.add_tool(lambda: "noted", name="take_note", auto_reply=False)
        client.connect(timeout=10)
        server.send_event(call_frame("take_note", "call_n", {}))
        wait_until(lambda: len(outputs(server)) == 1)
        client.ask("hello", timeout=10)  # a later frame: whatever followed the output has come
    types = [m.type for m in server.messages()]
    after_output = types[types.index("conversation.item.create") + 1]
    assert after_output == "conversation.item.create"  # ask()'s text, not a response.create


def test_without_python_tools_calls_are_left_to_the_user(server):
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        with client.events(ev.FunctionCallArgumentsDone) as calls:
            server.send_event(call_frame("lookup_order", "call_x", {"order_no": "A-1"}))
            assert calls.get(timeout=10).arguments == {"order_no": "A-1"}
        client.ask("hello", timeout=10)
    assert outputs(server) == []


# ------------------------------------------------------------------ trigger tools


def test_after_reply_runs_once_the_avatar_has_finished_speaking(server):
    order = []
    with client_for(server, media=False) as client:

        @client.tool
        def end_call(reason: str = "goodbye") -> str:
            """End the call when the user says goodbye."""
            client.after_reply(lambda: order.append("hung up"), grace=0.2)
            return "The call is ending. Goodbye!"

        client.on(ev.ResponseAudioDone, lambda e: order.append("audio done"))
        client.connect(timeout=10)
        client.send_text("please end the call now")
        wait_until(lambda: "hung up" in order, timeout=15)
    # the spoken answer about the result, then the hang-up (the call's own response has no
    # audio.done from this server by default: test_ask_and_wait_until_quiet_... has both)
    assert order == ["audio done", "hung up"]


def test_a_tool_can_close_the_client_after_the_goodbye(server):
    with client_for(server, media=False) as client:

        @client.tool(auto_reply=True)
        def end_call() -> str:
            """Hang up."""
            client.after_reply(client.close, grace=0.1)
            return "Goodbye!"

        client.connect(timeout=10)
        with client.events(ev.ResponseTranscriptDone) as replies:
            client.send_text("end the call")
            assert "Goodbye!" in replies.get(timeout=20).text
        wait_until(lambda: client.state == nt.State.CLOSED, timeout=15)


def test_wait_until_quiet_times_out_while_a_reply_is_asked_for(make_server):
    server = make_server(brain=lambda request: None)  # asked replies never come
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        client.send_text("anyone there?")
        with pytest.raises(nt.NavTalkTimeout, match="finish speaking"):
            client.wait_until_quiet(grace=0.1, timeout=0.5)


# ------------------------------------------------------------------ the server's rule


def test_the_rule_brain_fills_the_arguments_it_can_read():
    tools = [
        {"name": "lookup_order", "parameters": {"type": "object",
         "properties": {"order_no": {"type": "string"}}, "required": ["order_no"]}},
        book_table_schema(),
    ]  # fmt: skip
    call = choose_tool("Book a table for four at seven p m on the terrace tomorrow", tools)
    assert call.name == "book_table"
    assert call.arguments == {"guests": 4, "time": "7pm", "area": "terrace", "day": "tomorrow"}
    assert choose_tool("where is order A-1042?", tools).arguments == {"order_no": "A-1042"}
    assert choose_tool("what a nice day", tools) is None


def _first_call(server) -> ev.FunctionCallArgumentsDone:
    with client_for(server, media=False, tools=[book_table]) as client:
        client.connect(timeout=10)
        with client.events(ev.FunctionCallArgumentsDone) as calls:
            client.send_text("book a table for 4 at 7pm")
            return calls.get(timeout=10)


def test_the_server_sends_a_call_in_the_hosted_services_shape(server):
    call = _first_call(server)
    data, raw = call.raw["data"], call.raw["raw_data"]
    assert data["function_name"] == raw["name"] == "book_table" and "name" not in data
    assert data["call_id"] == raw["call_id"] == call.call_id
    assert data["arguments"] == json.loads(raw["arguments"]) == {"guests": 4, "time": "7pm"}
    assert {"item_id", "output_index", "response_id", "event_id"} <= set(raw)
    assert call.arguments == {"guests": 4, "time": "7pm"}


def test_the_server_can_send_the_arguments_as_openais_json_text(make_server):
    call = _first_call(make_server(tool_arguments="string"))
    data, raw = call.raw["data"], call.raw["raw_data"]
    assert data["function_name"] == data["name"] == "book_table"
    assert isinstance(data["arguments"], str)
    assert json.loads(data["arguments"]) == json.loads(raw["arguments"])
    assert call.arguments == {"guests": 4, "time": "7pm"}


@pytest.mark.parametrize("audio_done_after_tool_call", [False, True])
def test_ask_and_wait_until_quiet_are_right_whether_a_tool_reply_ends_with_audio_done(
    make_server, audio_done_after_tool_call
):
    server = make_server(audio_done_after_tool_call=audio_done_after_tool_call)
    with client_for(server, media=False) as client:

        @client.tool
        def book_table(guests: int, time: str) -> str:
            """Book a table."""
            return f"booked for {guests} at {time}"

        client.connect(timeout=10)
        for _ in range(2):  # the second ask() must not take a leftover end for its own
            reply = client.ask("book a table for 4 at 7pm", timeout=20)
            assert "booked for 4 at 7pm" in reply
            client.wait_until_quiet(grace=0.2, timeout=10)  # no reply counted as still owed
        assert client.ask("hello", timeout=10) == "Hello! Nice to meet you."
    frames = [m.type for m in server.messages()]
    assert frames.count("response.create") >= 5


def book_table_schema() -> dict:
    return {
        "name": "book_table",
        "parameters": {
            "type": "object",
            "properties": {
                "guests": {"type": "integer"},
                "time": {"type": "string"},
                "area": {"type": "string", "enum": ["inside", "terrace"]},
                "day": {"type": "string"},
            },
        },
    }

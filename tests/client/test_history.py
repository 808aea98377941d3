"""client.history: what is recorded, its bound, save/load, and replay into a new session."""

from __future__ import annotations

import json
import time

import pytest

import navtalk_sync as nt
from navtalk_sync import events as ev
from navtalk_sync import messages
from navtalk_sync.history import History, Turn
from navtalk_sync.replies import ReplyTracker
from tests.helpers import client_for, spoken, wait_until

pytestmark = pytest.mark.timeout(60)


def item_texts(server, connection_id: int | None = None) -> list[str]:
    """The user messages a connection sent, in order."""
    texts = []
    for m in server.messages("conversation.item.create", connection_id):
        item = m.message["item"]
        if item.get("type") == "message":
            texts.append("".join(part["text"] for part in item["content"]))
    return texts


def conversation(history: History) -> list[tuple[str, str, str]]:
    return [(t.role, t.kind, t.text) for t in history]


# ------------------------------------------------------------------ the record itself


def test_typed_text_and_replies_are_recorded_in_order_with_timestamps(server):
    before = time.time()
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        client.ask("Hello there", timeout=10)
        client.ask("Do you have a room for two?", timeout=10)
        history = client.history
    assert conversation(history) == [
        ("user", "text", "Hello there"),
        ("assistant", "reply", "Hello! Nice to meet you."),
        ("user", "text", "Do you have a room for two?"),
        ("assistant", "reply", "You said: Do you have a room for two?"),
    ]
    times = [t.time for t in history]
    assert before <= times[0] and times == sorted(times) and times[-1] <= time.time()


def test_replies_made_of_deltas_only_are_put_together():
    history = History()
    frames = [
        {"type": "realtime.response.audio_transcript.delta", "data": {"content": "Two ", "id": "r1"}},
        {"type": "realtime.response.audio_transcript.delta", "data": {"content": "rooms", "id": "r1"}},
        {"type": "realtime.response.audio.done", "data": {"id": "r1"}},
        {"type": "realtime.response.audio.done", "data": {"id": "r2"}},  # nothing to record
    ]  # fmt: skip
    replies = ReplyTracker(on_reply=history.add_reply)
    for frame in frames:
        event = ev.parse_event(frame)
        history.observe(event)
        replies.observe(event)
    assert conversation(history) == [("assistant", "reply", "Two rooms")]


def test_spoken_turns_tool_calls_and_results_are_recorded(make_server):
    server = make_server(recognizer=lambda samples, rate: "book a taxi")
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        with client.events(ev.ResponseAudioDone) as done:
            client.send_audio(spoken("book a taxi"), 48000)
            done.get(timeout=30)
        call = {
            "type": "realtime.response.function_call_arguments.done",
            "data": {"function_name": "book_taxi", "call_id": "call_7",
                     "arguments": "{\"to\": \"the station\"}"},
        }  # fmt: skip
        with client.events(ev.FunctionCallArgumentsDone) as calls:
            server.send_event(call)
            calls.get(timeout=10)
        client.send_message(messages.function_call_output("call_7", {"booked": True}))
        wait_until(lambda: len(server.messages("conversation.item.create")) == 1)
        turns = client.history.turns()
    assert conversation(History(turns)) == [
        ("user", "speech", "book a taxi"),
        ("assistant", "reply", "You said: book a taxi."),
        ("assistant", "tool_call", '{"to": "the station"}'),
        ("tool", "tool_result", '{"booked": true}'),
    ]
    assert (turns[2].name, turns[2].call_id, turns[3].call_id) == ("book_taxi", "call_7", "call_7")


def test_the_history_is_bounded_and_drops_its_oldest_turns():
    history = History(max_turns=3)
    for number in range(5):
        history.add("user", "text", f"turn {number}")
    assert [t.text for t in history] == ["turn 2", "turn 3", "turn 4"]
    assert history.dropped == 2 and len(history) == 3 and history.max_turns == 3
    with pytest.raises(nt.InvalidArgument):
        History(max_turns=0)


# ------------------------------------------------------------------ files


def test_save_and_load_keep_every_turn(tmp_path):
    history = History()
    history.add("user", "text", "Hi, is the pool open? ☀️", at=1000.0)
    history.add("assistant", "reply", "Until 8 pm.", at=1001.5)
    history.add("assistant", "tool_call", "{}", name="pool_hours", call_id="c1", at=1002.0)
    history.add("tool", "tool_result", "8 pm", call_id="c1", at=1002.1)
    history.add("user", "image", "", at=1003.0)
    path = tmp_path / "yesterday.json"
    history.save(path)
    loaded = History.load(path)
    assert loaded.turns() == history.turns()
    assert loaded.user_texts() == ["Hi, is the pool open? ☀️"]
    assert json.loads(path.read_text("utf-8"))["format"] == "navtalk-history"


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("not json", "JSON"),
        ('{"turns": []}', "not a saved history"),
        ('{"format": "navtalk-history", "version": 9, "turns": []}', "version"),
        ('{"format": "navtalk-history", "version": 1, "turns": {}}', "list"),
        ('{"format": "navtalk-history", "version": 1, "turns": [{"role": "boss", "kind": "text",'
         ' "text": "x", "time": 1}]}', "role"),
        ('{"format": "navtalk-history", "version": 1, "turns": [{"role": "user"}]}', "incomplete"),
        ('{"format": "navtalk-history", "version": 1, "turns": [{"role": "user", "kind": "text",'
         ' "text": "x", "time": 1, "mood": "happy"}]}', "unknown field"),
    ],
)  # fmt: skip
def test_a_bad_history_file_is_refused(tmp_path, content, complaint):
    path = tmp_path / "history.json"
    path.write_text(content)
    with pytest.raises(nt.InvalidArgument, match=complaint):
        History.load(path)


def test_a_missing_history_file_is_refused(tmp_path):
    with pytest.raises(nt.InvalidArgument, match="cannot read"):
        History.load(tmp_path / "nothing.json")


# ------------------------------------------------------------------ replay


def test_a_saved_history_is_replayed_in_order_into_the_next_session(server, tmp_path):
    path = tmp_path / "yesterday.json"
    with client_for(server, media=False) as first:
        first.connect(timeout=10)
        first.ask("I booked room 12.", timeout=10)
        first.ask("Can I check out late?", timeout=10)
        first.history.save(path)
    first_id = server.connections[0].id

    history = History.load(path)
    with client_for(server, media=False, history=history) as second:
        second.connect(timeout=10)
        server.wait_for_connection(count=2)
        second_id = max(c.id for c in server.connections)
        answer = second.ask("What was my room?", timeout=10)
        recorded = conversation(second.history)

    assert item_texts(server, first_id) == ["I booked room 12.", "Can I check out late?"]
    assert item_texts(server, second_id) == [
        "I booked room 12.", "Can I check out late?", "What was my room?"
    ]  # fmt: skip
    # the replayed turns came before session.updated and asked for no reply
    assert answer == "You said: What was my room?"
    created = [m.type for m in server.messages(connection_id=second_id)].count("response.create")
    assert created == 1
    # the new client's history goes on from the loaded one
    assert recorded[:4] == conversation(history)
    assert recorded[4:] == [("user", "text", "What was my room?"),
                            ("assistant", "reply", "You said: What was my room?")]  # fmt: skip


def test_a_capped_replay_sends_only_the_last_turns(server):
    turns = [f"turn {n}" for n in range(10)]
    with client_for(server, media=False, history=turns, history_max_turns=3) as client:
        client.connect(timeout=10)
    assert item_texts(server) == ["turn 7", "turn 8", "turn 9"]
    assert client.settings.replayed_history == ("turn 7", "turn 8", "turn 9")


def test_a_long_history_is_replayed_whole_and_in_order(server):
    turns = [f"turn {n}" for n in range(120)]
    with client_for(server, media=False, history=turns) as client:
        client.connect(timeout=10)
    assert item_texts(server) == turns


def test_a_history_too_long_for_the_send_queue_is_refused_up_front():
    with pytest.raises(nt.ConfigError, match="history_max_turns"):
        nt.NavTalkClient("sk_navtalk_test", avatar_name="navtalk.Leo", history=["x"] * 200)
    client = nt.NavTalkClient(
        "sk_navtalk_test", avatar_name="navtalk.Leo", history=["x"] * 200, history_max_turns=50
    )
    client.close()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(nt.ConfigError, match="history_max_turns"):
            nt.NavTalkClient("sk_navtalk_test", avatar_name="navtalk.Leo", history_max_turns=bad)


def test_only_user_words_are_replayed_from_a_history():
    history = History(
        [
            Turn("user", "text", "Hello", 1.0),
            Turn("assistant", "reply", "Hi!", 2.0),
            Turn("user", "speech", "A table for two", 3.0),
            Turn("assistant", "tool_call", "{}", 4.0, name="book", call_id="c"),
            Turn("tool", "tool_result", "ok", 5.0, call_id="c"),
            Turn("user", "image", "", 6.0),
            Turn("user", "speech", "   ", 7.0),
        ]
    )
    client = nt.NavTalkClient("sk_navtalk_test", avatar_name="navtalk.Leo", history=history)
    client.close()
    assert client.settings.replayed_history == ("Hello", "A table for two")
    assert len(client.history) == 7
    assert client.history is not history  # a copy: the loaded history is not changed


def test_the_history_outlives_the_session(server):
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        client.send_text("Remember me", respond=False)
        wait_until(lambda: len(server.messages("conversation.item.create")) == 1)
    assert client.state == "closed"
    assert client.history.user_texts() == ["Remember me"]

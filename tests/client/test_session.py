"""A real client against the real local server over a real socket: the session lifecycle."""

from __future__ import annotations

import json
import threading
import time

import pytest

import navtalk_sync as nt
from navtalk_sync import events as ev
from navtalk_sync.server import DEFAULT_AVATARS, Avatar, LocalServer
from tests.helpers import client_for, wait_until

pytestmark = pytest.mark.timeout(30)


def received_types(server: LocalServer) -> list[str]:
    return [m.type for m in server.received]


def item_texts(server: LocalServer) -> list[str]:
    texts = []
    for m in server.messages("conversation.item.create"):
        item = m.message["item"]
        if item.get("type") == "message":
            texts.append("".join(part["text"] for part in item["content"]))
    return texts


# ------------------------------------------------------------------ the happy path


def test_happy_path_in_protocol_order(server):
    seen: list[ev.Event] = []
    with client_for(server) as client:
        client.on("*", seen.append)
        client.connect(timeout=10)
        assert client.state in ("session_ready", "live")
        wait_until(lambda: client.state == "live", timeout=10)  # the avatar's media is up
        info = server.wait_for_connection()
        assert client.session_id == info.session_id and client.session_id
        assert client.ice_servers == ()
        reply = client.ask("Is breakfast included?", timeout=10)
        assert reply == "You said: Is breakfast included?"
    assert client.state == "closed"

    types = [e.type for e in seen]
    server_events = [t for t in types if not t.startswith("client.")]
    assert server_events[:4] == [
        "conversation.connected.success",
        "webrtc.signaling.offer",
        "realtime.session.created",
        "realtime.session.updated",
    ]
    reply_events = server_events[4:]
    assert reply_events[-2:] == [
        "realtime.response.audio_transcript.done",
        "realtime.response.audio.done",
    ]
    assert set(reply_events[:-2]) == {"realtime.response.audio_transcript.delta"}
    deltas = [e for e in seen if isinstance(e, ev.ResponseTranscriptDelta)]
    assert "".join(d.text for d in deltas) == reply
    assert len({d.response_id for d in deltas}) == 1

    states = [e.state for e in seen if isinstance(e, ev.StateChanged)]
    assert states == [
        "connecting",
        "configuring",
        "connected",
        "session_ready",
        "live",
        "closing",
        "closed",
    ]
    disconnected = [e for e in seen if isinstance(e, ev.SessionEnded)]
    assert len(disconnected) == 1 and disconnected[0].error is None
    assert types[-1] == "client.disconnected"


def test_text_messages_reach_the_server_in_the_recommended_form(server):
    with client_for(server) as client:
        client.connect(timeout=10)
        client.send_text("just so you know", respond=False)
        assert client.ask("and now answer", timeout=10) == "You said: and now answer."
    assert item_texts(server) == ["just so you know", "and now answer"]
    # a user message then response.create for ask() (protocol.md#user-text,
    # protocol.md#response-create); no response.create for respond=False
    tail = [
        t for t in received_types(server) if t in ("conversation.item.create", "response.create")
    ]
    assert tail == ["conversation.item.create", "conversation.item.create", "response.create"]
    assert all(m.valid for m in server.received)


def test_history_is_replayed_in_order_before_session_updated(server):
    history = [
        "I booked room 12.",
        {"role": "assistant", "text": "Noted."},
        {"role": "user", "text": "Late checkout?"},
    ]
    with client_for(server, history=history) as client:
        client.connect(timeout=10)
    assert item_texts(server) == ["I booked room 12.", "Late checkout?"]
    assert "response.create" not in received_types(server)  # no source replies to history


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, []),
        ({"voice": "marin", "prompt": "Be brief."},
         [("realtime.input_config", {"voice": "marin", "prompt": "Be brief."})]),
        ({"tools": [{"name": "end_call", "description": "Hang up."}]},
         [("realtime.input_function_call", [{"name": "end_call", "description": "Hang up.", "type": "function"}])]),
        ({"voice": "cedar", "tools": [{"name": "end_call"}]},
         [("realtime.input_config", {"voice": "cedar", "tools": [{"name": "end_call", "type": "function"}]})]),
    ],
)  # fmt: skip
def test_opening_configuration_forms(server, options, expected):
    with client_for(server, **options) as client:
        client.connect(timeout=10)
    config_types = ("realtime.input_config", "realtime.input_function_call")
    got = [m for m in server.received if m.type in config_types]
    assert [(m.type, json.loads(m.message["data"]["content"])) for m in got] == expected
    if expected:  # sent on open, before anything else
        assert server.received[0].type == expected[0][0]


def test_avatar_id_wins_over_name(server):
    avatar = DEFAULT_AVATARS[3]
    with client_for(server, avatar_id=avatar.id, avatar_name="navtalk.Leo") as client:
        client.connect(timeout=10)
    info = server.connections[0]
    assert info.avatar_id == avatar.id
    assert "name" not in info.query and info.query["avatarId"] == avatar.id


def test_odd_avatar_names_are_encoded():
    odd = Avatar(id="0123456789abcdef0123456789abcdef", name="Anna & Co/ü?#=", updated_at=1.0)
    with LocalServer(avatars=[odd]) as server, client_for(server, avatar_name=odd.name) as client:
        client.connect(timeout=10)
        assert server.connections[0].avatar_name == odd.name
        assert server.connections[0].avatar_id == odd.id


def test_ambiguous_name_gives_a_warning_and_continues():
    older = Avatar(id="a" * 32, name="front-desk", updated_at=1.0)
    newer = Avatar(id="b" * 32, name="front-desk", updated_at=2.0)
    with LocalServer(avatars=[older, newer]) as server:
        warnings_seen: list[ev.ConnectedWarning] = []
        with client_for(server, avatar_name="front-desk") as client:
            client.on(ev.ConnectedWarning, warnings_seen.append)
            client.connect(timeout=10)
            assert client.ask("hi there", timeout=10)
        assert [w.avatar_id for w in warnings_seen] == ["b" * 32]


def test_greet_first_makes_the_avatar_speak_first(server):
    with client_for(server, greet_first=True) as client:
        with client.events(ev.ResponseTranscriptDone) as replies:
            client.connect(timeout=10)
            greeting = replies.get(timeout=10)
    assert greeting.text.startswith("Hello")
    assert received_types(server).count("response.create") == 1


# ------------------------------------------------------------------ callbacks and waiting


def test_on_off_and_decorator(server):
    calls: list[str] = []
    with client_for(server) as client:

        @client.on("realtime.response.audio_transcript.done")
        def done(event):
            calls.append(event.text)

        assert callable(done)  # the decorator hands the function back
        legacy_calls: list[str] = []
        handle = client.on("response.audio_transcript.done", lambda e: legacy_calls.append(e.type))
        client.connect(timeout=10)
        client.ask("one", timeout=10)
        # ask() returns when the reply arrives; its callbacks run on the dispatcher meanwhile
        wait_until(lambda: len(calls) == 1 and len(legacy_calls) == 1)
        assert client.off(handle)
        client.ask("two", timeout=10)
        wait_until(lambda: len(calls) == 2)
        assert client.off(done)
        client.ask("three", timeout=10)
    assert calls == ["You said: one.", "You said: two."]
    assert legacy_calls == ["realtime.response.audio_transcript.done"]


def test_wait_for_with_predicate_and_events_iterator(server):
    with client_for(server) as client:
        client.connect(timeout=10)
        sub = client.events((ev.ResponseTranscriptDelta, "realtime.response.audio.done"))
        waiter_result: list[ev.Event] = []
        waiter = threading.Thread(
            target=lambda: waiter_result.append(
                client.wait_for(
                    ev.ResponseTranscriptDelta, 10, predicate=lambda e: "blue" in e.text
                )
            )
        )
        waiter.start()
        time.sleep(0.05)
        client.send_text("the sky is blue")
        waiter.join(10)
        assert waiter_result and "blue" in waiter_result[0].text
        collected = []
        for event in sub:
            collected.append(event)
            if event.type == "realtime.response.audio.done":
                break
        sub.close()
    assert "".join(e.text for e in collected[:-1]) == "You said: the sky is blue."


def test_a_raising_callback_is_reported_and_dispatch_goes_on(server):
    reports: list[ev.CallbackFailure] = []
    done_texts: list[str] = []
    with client_for(server) as client:

        @client.on(ev.ResponseTranscriptDelta)
        def broken(event):
            raise RuntimeError("boom in user code")

        client.on("client.callback_error", reports.append)
        client.on(ev.ResponseTranscriptDone, lambda e: done_texts.append(e.text))
        client.connect(timeout=10)
        client.ask("hello", timeout=10)
    assert reports and all(isinstance(r.error, RuntimeError) for r in reports)
    assert reports[0].callback.endswith("broken")
    assert isinstance(reports[0].event, ev.ResponseTranscriptDelta)
    assert done_texts == ["Hello! Nice to meet you."]
    assert client.stats()["callback_errors"] == len(reports)


def test_wait_for_times_out_naming_what_it_awaited(server):
    with client_for(server) as client:
        client.connect(timeout=10)
        with pytest.raises(nt.NavTalkTimeout, match="realtime.response.audio.done"):
            client.wait_for("realtime.response.audio.done", timeout=0.2)


def test_selectors_are_checked(server):
    client = client_for(server)
    with pytest.raises(nt.InvalidArgument, match="unknown client event"):
        client.on("client.nonsense", print)
    with pytest.raises(nt.InvalidArgument):
        client.on(42, print)  # type: ignore[arg-type]
    with pytest.warns(UserWarning, match="not a known NavTalk event type"):
        client.on("realtime.made.up", print)
    client.close()


# ------------------------------------------------------------------ closing


def test_close_from_inside_a_callback(server):
    closed_in_callback = threading.Event()
    with client_for(server) as client:

        @client.on(ev.ResponseTranscriptDone)
        def hang_up(event):
            client.close()
            closed_in_callback.set()

        client.connect(timeout=10)
        client.send_text("goodbye")
        assert closed_in_callback.wait(10)
    assert client.state == "closed"
    with pytest.raises(nt.NotConnected):
        client.send_text("anyone there?")


def test_close_from_another_thread_during_connect(server):
    server.faults.stall_before_session_updated = True
    client = client_for(server)
    closer = threading.Thread(target=lambda: (server.wait_for_connection(), client.close()))
    closer.start()
    with pytest.raises(nt.NotConnected, match="closed while connecting"):
        client.connect(timeout=20)
    closer.join(5)
    assert client.state == "closed"


def test_lifecycle_misuse_gets_clear_errors(server):
    client = client_for(server)
    with pytest.raises(nt.NotConnected, match="connect"):
        client.send_text("too early")
    with pytest.raises(nt.InvalidArgument, match="non-empty string"):
        client.send_text("")
    client.connect(timeout=10)
    with pytest.raises(nt.NavTalkError, match="already called"):
        client.connect(timeout=10)
    with pytest.raises(nt.InvalidArgument, match="timeout must be a number of seconds > 0"):
        client.ask("x", timeout=0)
    with pytest.raises(nt.InvalidArgument, match="client message"):
        client.send_message({"type": "made.up"})
    client.close()
    client.close()  # idempotent
    with pytest.raises(nt.NotConnected):
        client.connect(timeout=10)
    never_connected = client_for(server)
    never_connected.close()
    assert never_connected.state == "closed"


def test_stats_count_both_directions(server):
    with client_for(server) as client:
        client.connect(timeout=10)
        client.ask("count me", timeout=10)
        stats = client.stats()
    assert stats["frames_sent"] == 3  # the WebRTC answer, the item, response.create
    assert stats["events_received"] >= 6
    assert stats["malformed_frames"] == 0
    assert stats["dispatch_queue_depth"] >= 0

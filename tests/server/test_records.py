"""What the server records: queries, messages, connections."""

from __future__ import annotations

import threading

import pytest

from navtalk_sync.server import (
    ConnectionInfo,
    ReceivedMessage,
)
from tests.server.raw_client import (
    PCM,
    UPDATED,
    text_item,
    wait_closed,
)

pytestmark = pytest.mark.timeout(30)


def test_received_queries_and_waiting(server, session):
    session.send(text_item("one"))
    session.send({"type": "realtime.input_audio_buffer.append", "data": {"audio": PCM}})
    later = threading.Timer(0.1, session.send, args=(text_item("two"),))
    later.start()
    record = server.wait_for_message(
        "conversation.item.create",
        predicate=lambda m: m.message["item"]["content"][0]["text"] == "two",
    )
    later.join()
    assert isinstance(record, ReceivedMessage) and record.valid
    assert [m.type for m in server.received] == [
        "conversation.item.create",
        "realtime.input_audio_buffer.append",
        "conversation.item.create",
    ]
    assert len(server.messages("conversation.item.create", connection_id=1)) == 2
    assert server.messages(connection_id=2) == []
    times = [m.time for m in server.received]
    assert times == sorted(times)
    with pytest.raises(TimeoutError, match=r"response\.create"):
        server.wait_for_message("response.create", timeout=0.1)


def test_connections_are_listed_and_closed_ones_marked(server, connect):
    first = connect(server)
    first.until(UPDATED)
    connect(server, name="navtalk.Zoe").until(UPDATED)
    assert server.wait_for_connection(count=2).avatar_name == "navtalk.Zoe"
    first.ws.close()
    wait_closed(server, connection_id=1)
    infos = server.connections
    assert [i.id for i in infos] == [1, 2] and all(isinstance(i, ConnectionInfo) for i in infos)
    assert [i.open for i in infos] == [False, True]
    with pytest.raises(TimeoutError):
        server.wait_for_connection(timeout=0.1, count=3)

"""The client's side of WebRTC signaling, against a real aiortc offerer on loopback.

The local server is told not to offer; the test's own aiortc peer makes the offer instead, and
the server's ``send_event`` carries it to the client in each shape the protocol allows
(protocol.md#webrtc-signaling, protocol.md#ice-candidates). What the client answers comes back
through what the server received (which, having made no offer itself, also refuses that
answer with an error event: the tests ignore it).
"""

from __future__ import annotations

import itertools
import re
import threading
import time

import pytest

import navtalk_sync as nt
from navtalk_sync.events import MediaChanged, SignalingAnswer, SignalingOffer
from navtalk_sync.server import Faults, LocalServer
from tests.helpers import client_for, wait_until
from tests.rigs.offerer import Offerer, dead_candidates, split_candidates
from tests.rigs.udp import udp_sockets

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def server():
    with LocalServer(faults=Faults(no_offer=True)) as server:
        yield server


@pytest.fixture
def offerer():
    peer = Offerer()
    yield peer
    peer.close()


def offer_frame(sdp: str, shape: str = "object") -> dict:
    if shape == "object":
        return {"type": "webrtc.signaling.offer", "data": {"sdp": {"type": "offer", "sdp": sdp}}}
    if shape == "string":
        return {"type": "webrtc.signaling.offer", "data": {"sdp": sdp}}
    assert shape == "nested"
    return {"type": "webrtc.signaling.offer", "data": {"offer": {"type": "offer", "sdp": sdp}}}


def candidate_frame(candidate: str, bare: bool) -> dict:
    if bare:
        return {"type": "webrtc.signaling.iceCandidate", "data": {"candidate": candidate}}
    body = {"candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0}
    return {"type": "webrtc.signaling.iceCandidate", "data": {"candidate": body}}


def answer_sdp(server: LocalServer) -> str:
    message = server.wait_for_message("webrtc.signaling.answer", timeout=10)
    sdp = message.message["data"]["sdp"]
    assert sdp["type"] == "answer"
    return sdp["sdp"]


def media_states(client: nt.NavTalkClient) -> list[str]:
    seen: list[str] = []
    client.on(MediaChanged, lambda event: seen.append(event.state))
    return seen


@pytest.mark.parametrize("shape", ["object", "string", "nested"])
def test_the_client_answers_each_offer_shape_and_the_picture_arrives(server, offerer, shape):
    with client_for(server) as client:
        client.connect(timeout=10)
        server.send_event(offer_frame(offerer.offer(), shape))
        answer = answer_sdp(server)
        offerer.accept(answer)
        frame = client.wait_for_video(timeout=10)
        wait_until(lambda: client.state == "live", timeout=10)

    assert (frame.width, frame.height) == (320, 240)
    assert frame.image.shape == (240, 320, 3)
    assert tuple(frame.image[120, 160]) == pytest.approx((200, 40, 40), abs=12)
    # receive-only audio and video, video m-line first, candidates on loopback only
    kinds = re.findall(r"^m=(\w+)", answer, re.MULTILINE)
    assert kinds == ["video", "audio"]
    assert answer.count("a=recvonly") == 2
    addresses = {line.split()[4] for line in answer.split("\r\n") if line.startswith("a=candidate")}
    assert addresses == {"127.0.0.1"}
    assert "\r\n" in answer


def test_offer_with_bare_lf_line_endings_is_answered(server, offerer):
    with client_for(server) as client:
        client.connect(timeout=10)
        sdp = offerer.offer().replace("\r\n", "\n")
        server.send_event(offer_frame(sdp, "string"))
        offerer.accept(answer_sdp(server))
        client.wait_for_video(timeout=10)


@pytest.mark.parametrize("bare", [False, True], ids=["object", "string"])
def test_candidates_the_server_trickles_are_used(server, offerer, bare):
    with client_for(server) as client:
        client.connect(timeout=10)
        sdp, candidates = split_candidates(offerer.offer())
        assert candidates
        server.send_event(offer_frame(sdp))
        offerer.accept(answer_sdp(server))
        for candidate in candidates:
            server.send_event(candidate_frame(candidate, bare))
        client.wait_for_video(timeout=10)
        wait_until(lambda: client.state == "live", timeout=10)


def test_candidates_trickled_before_the_offer_are_kept_for_it(server, offerer):
    with client_for(server) as client:
        client.connect(timeout=10)
        sdp, candidates = split_candidates(offerer.offer())
        for candidate in candidates:
            server.send_event(candidate_frame(candidate, bare=False))
        server.send_event(offer_frame(sdp))
        offerer.accept(answer_sdp(server))
        client.wait_for_video(timeout=10)


def test_no_offer_reports_failed_media_and_the_conversation_goes_on(server):
    with client_for(server, media_timeout=1.0) as client:
        states = media_states(client)
        client.connect(timeout=10)
        event = client.wait_for("client.media", timeout=10, predicate=lambda e: e.state == "failed")
        assert "no WebRTC offer" in event.reason
        assert client.ask("hello", timeout=10) == "Hello! Nice to meet you."
        assert client.state == "session_ready"
        assert client.media_state == "failed"
    assert states[:2] == ["waiting", "failed"]
    assert states[-1] == "closed"


def test_media_required_ends_the_session_when_media_fails(server):
    client = client_for(server, media_timeout=1.0, media_required=True)
    try:
        client.connect(timeout=10)
        event = client.wait_for("client.disconnected", timeout=10)
        assert isinstance(event.error, nt.MediaError)
        assert isinstance(client.error, nt.MediaError)
        with pytest.raises(nt.NotConnected):
            client.send_text("anyone there?")
    finally:
        client.close()


def test_unreachable_candidates_report_that_ice_did_not_connect(server, offerer):
    with client_for(server, media_timeout=2.0) as client:
        client.connect(timeout=10)
        server.send_event(offer_frame(dead_candidates(offerer.offer())))
        answer_sdp(server)  # the offerer never learns the answer: nothing answers the checks
        event = client.wait_for("client.media", timeout=10, predicate=lambda e: e.state == "failed")
        assert "ICE did not connect" in event.reason
        assert client.state == "session_ready"


def test_a_stalled_stream_is_reported_and_its_recovery_too(server, offerer):
    with client_for(server, stall_timeout=1.0) as client:
        client.connect(timeout=10)
        server.send_event(offer_frame(offerer.offer()))
        offerer.accept(answer_sdp(server))
        client.wait_for_video(timeout=10)
        wait_until(lambda: client.media_state == "flowing", timeout=10)
        offerer.pause()
        stalled = client.wait_for("client.media", 10, lambda e: e.state == "stalled")
        assert "no video frame" in stalled.reason
        assert client.state == "live"  # ICE is still up; only the picture stopped
        offerer.resume()
        client.wait_for("client.media", 10, lambda e: e.state == "flowing")


def test_a_slow_video_consumer_drops_stale_frames_and_does_not_hold_up_events(server, offerer):
    delivered = []
    ages = []

    with client_for(server) as client:

        @client.on_video_frame
        def slow(frame):
            ages.append(time.monotonic() - frame.received_at)
            delivered.append(frame.index)
            time.sleep(0.3)

        client.connect(timeout=10)
        server.send_event(offer_frame(offerer.offer()))
        offerer.accept(answer_sdp(server))
        client.wait_for_video(timeout=10)
        wait_until(lambda: len(delivered) >= 8, timeout=20)
        # text keeps flowing while the consumer sleeps (ask() is not used: the server, which
        # made no offer itself, refuses the answer with an error event that ask() would take)
        with client.events("realtime.response.audio_transcript.done") as replies:
            client.send_text("hello")
            assert replies.get(timeout=10).text == "Hello! Nice to meet you."
        stats = client.stats()

    assert stats["video_frames_dropped"] > 0
    assert stats["video_frames_received"] > stats["video_frames_delivered"]
    assert delivered == sorted(delivered)
    assert max(b - a for a, b in itertools.pairwise(delivered)) > 1  # stale frames skipped
    # latest wins: a frame never waits behind a backlog (an unbounded queue would age ~2 s here)
    assert max(ages) < 1.0


def test_avatar_audio_chunks_are_48k_int16(server, offerer):
    chunks = []
    with client_for(server) as client:
        client.on_avatar_audio(chunks.append)
        client.connect(timeout=10)
        server.send_event(offer_frame(offerer.offer()))
        offerer.accept(answer_sdp(server))
        wait_until(lambda: len(chunks) >= 10, timeout=10)
    chunk = chunks[0]
    assert chunk.sample_rate == 48000
    assert chunk.pcm.dtype.name == "int16"
    assert chunk.pcm.ndim == 2 and chunk.channels in (1, 2)
    assert chunk.duration == pytest.approx(0.02, abs=0.001)


def test_a_video_callback_that_raises_is_reported_and_frames_go_on(server, offerer):
    calls = []

    with client_for(server) as client:

        @client.on_video_frame
        def broken(frame):
            calls.append(frame.index)
            raise RuntimeError("boom")

        client.connect(timeout=10)
        server.send_event(offer_frame(offerer.offer()))
        offerer.accept(answer_sdp(server))
        error = client.wait_for("client.callback_error", timeout=10)
        wait_until(lambda: len(calls) >= 3, timeout=10)
    assert isinstance(error.error, RuntimeError)
    assert "broken" in error.callback


def test_close_leaves_no_thread_task_or_udp_socket(server, offerer):
    before = udp_sockets()
    client = client_for(server)
    client.connect(timeout=10)
    server.send_event(offer_frame(offerer.offer()))
    offerer.accept(answer_sdp(server))
    client.wait_for_video(timeout=10)
    assert len(udp_sockets()) > len(before)
    started = time.monotonic()
    client.close(timeout=2.0)
    took = time.monotonic() - started
    names = [t.name for t in threading.enumerate()]
    assert not [n for n in names if n.startswith(("navtalk-rtc", "navtalk-video", "navtalk-av"))]
    offerer.close()
    assert udp_sockets() <= before
    assert took < 10  # bounded, not a timing claim: a hang would take the test timeout


def test_close_before_ice_connects_and_after_the_server_vanished(server, offerer):
    client = client_for(server)
    client.connect(timeout=10)
    server.send_event(offer_frame(dead_candidates(offerer.offer())))
    answer_sdp(server)
    server.drop_connections()
    wait_until(lambda: client.state == "closed", timeout=10)
    client.close(timeout=2.0)
    assert client.media_state == "closed"


def test_media_false_never_answers_and_has_no_media_api(server, offerer):
    with client_for(server, media=False) as client:
        client.connect(timeout=10)
        server.send_event(offer_frame(offerer.offer()))
        assert client.ask("hello", timeout=10)
        assert not server.messages("webrtc.signaling.answer")
        assert client.media_state == "off"
        with pytest.raises(nt.NotConnected):
            client.latest_frame()


def test_the_server_hanging_up_the_media_is_reported_as_failed(server, offerer):
    with client_for(server) as client:
        client.connect(timeout=10)
        server.send_event(offer_frame(offerer.offer()))
        offerer.accept(answer_sdp(server))
        client.wait_for_video(timeout=10)
        wait_until(lambda: client.state == "live", timeout=10)
        with client.events("client.media") as changes:
            offerer.close()  # DTLS close and RTCP BYE: the peer is gone, not just quiet
            event = changes.get(timeout=10)
            while event.state != "failed":
                event = changes.get(timeout=10)
        assert "closed" in event.reason
        wait_until(lambda: client.state == "session_ready", timeout=10)


def test_a_later_offer_is_ignored_whatever_it_holds(server, offerer):
    with client_for(server) as client:
        client.connect(timeout=10)
        server.send_event(offer_frame(offerer.offer()))
        offerer.accept(answer_sdp(server))
        client.wait_for_video(timeout=10)
        server.send_event({"type": "webrtc.signaling.offer", "data": {}})
        server.send_event(offer_frame(offerer.offer()))
        wait_until(lambda: client.stats()["offers_ignored"] == 2, timeout=10)
        assert client.media_state in ("connected", "flowing")
        assert len(server.messages("webrtc.signaling.answer")) == 1


def test_host_candidate_choice_is_per_client(server, offerer):
    """A loopback client and one left to aioice's choice, side by side in one process."""
    other = Offerer()
    try:
        with client_for(server) as local, client_for(server, ice_host_addresses=None) as default:
            local.connect(timeout=10)
            default.connect(timeout=10)
            answers = {}
            for client_id, peer in ((1, offerer), (2, other)):
                server.send_event(offer_frame(peer.offer()), connection_id=client_id)
                message = server.wait_for_message(
                    "webrtc.signaling.answer", 10, lambda m, c=client_id: m.connection_id == c
                )
                answers[client_id] = message.message["data"]["sdp"]["sdp"]
    finally:
        other.close()

    def addresses(sdp: str) -> set[str]:
        return {line.split()[4] for line in sdp.split("\r\n") if line.startswith("a=candidate")}

    assert addresses(answers[1]) == {"127.0.0.1"}
    assert "127.0.0.1" not in addresses(answers[2])  # aioice's own choice leaves loopback out


def test_an_answer_from_the_server_is_not_an_offer(make_server):
    server = make_server()
    offers: list[SignalingOffer] = []
    answers: list[SignalingAnswer] = []
    with client_for(server, media=False) as client:
        client.on(SignalingOffer, offers.append)
        client.on(SignalingAnswer, answers.append)
        client.connect(timeout=10)
        wait_until(lambda: offers, timeout=10)  # the session's own offer
        answer = {"type": "webrtc.signaling.answer", "data": {"sdp": {"type": "answer",
                  "sdp": offers[0].sdp}}}  # fmt: skip
        server.send_event(answer)
        wait_until(lambda: answers, timeout=10)
    assert [type(o) for o in offers] == [SignalingOffer]


def test_media_states_are_an_enum_that_compares_with_strings(make_server):
    server = make_server()
    with nt.NavTalkClient(server.license, avatar_name="navtalk.Leo", media=False) as off:
        assert off.media_state is nt.MediaState.OFF and off.media_state == "off"
    states: list[str] = []
    with client_for(server) as client:
        client.on(MediaChanged, lambda e: states.append(e.state))
        assert client.media_state is nt.MediaState.IDLE
        client.connect(timeout=10)
        client.wait_for_video(timeout=15)
        wait_until(lambda: client.media_state == nt.MediaState.FLOWING, timeout=10)
        assert client.stats()["media_state"] == "flowing"
    assert {type(state) for state in states} == {str}  # events carry plain strings
    assert states[-1] == "closed" and "flowing" in states

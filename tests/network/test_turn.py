"""Media through a real TURN relay (coturn on loopback), as for a client behind NAT or a
firewall that lets only the relay through: relay-only ICE over UDP, TCP and TLS, the pair in
use in stats(), the allocation on coturn's side, and wrong credentials."""

from __future__ import annotations

import pytest

import navtalk_sync as nt
from tests.helpers import client_for, relay_only, wait_until
from tests.rigs import coturn


def _allocations(turn_server) -> int:
    return turn_server.log_text().count(
        f"user <{coturn.USERNAME}>: incoming packet ALLOCATE processed, success"
    )


@relay_only
@pytest.mark.timeout(60)
@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_relay_only_media_goes_through_the_turn_server(
    make_server, turn_server, monkeypatch, transport
):
    if transport == "tls":  # aioice verifies a turns: server against the default store
        monkeypatch.setenv("SSL_CERT_FILE", turn_server.ca_file)
    server = make_server(ice_servers=[turn_server.ice_server(transport)])
    before = _allocations(turn_server)
    with client_for(server, ice_transport_policy="relay") as client:
        client.connect(timeout=10)
        frame = client.wait_for_video(timeout=20)
        assert client.ask("What can you do?", timeout=10)
        pair = client.stats()["network"]["candidate_pair"]
    assert frame.width == 512
    assert pair["local"] == "relay" and pair["relay_protocol"] == transport
    assert pair["relay_server"].startswith("127.0.0.1:")
    assert _allocations(turn_server) > before  # coturn's side: it allocated the relay


@relay_only
@pytest.mark.timeout(60)
def test_wrong_turn_credentials_fail_the_media_clearly_and_text_goes_on(make_server, turn_server):
    server = make_server(
        ice_servers=[turn_server.ice_server("udp", password="not-the-turn-password")]
    )
    changes: list[nt.events.MediaChanged] = []
    with client_for(server, ice_transport_policy="relay", media_timeout=5) as client:
        client.on("client.media", changes.append)
        client.connect(timeout=10)
        assert client.ask("What can you do?", timeout=10)  # text does not need the media
        wait_until(lambda: any(c.state == "failed" for c in changes), timeout=20)
        assert client.ask("Still there?", timeout=10)
    (failed,) = [c for c in changes if c.state == "failed"]
    assert "gave no relay address: wrong username or credential" in failed.reason
    assert (
        f"127.0.0.1:{turn_server.port}" in failed.reason
        and "wrong" not in failed.reason.split(":")[0]
    )


@pytest.mark.timeout(60)
def test_a_turn_server_named_with_a_url_string_and_the_default_policy(make_server, turn_server):
    entry = turn_server.ice_server("udp")
    entry["urls"] = entry["urls"][0]  # the contract allows a string as well as a list
    server = make_server(ice_servers=[{"urls": f"stun:127.0.0.1:{turn_server.port}"}, entry])
    with client_for(server) as client:
        client.connect(timeout=10)
        client.wait_for_video(timeout=20)
        network = client.stats()["network"]
    # every candidate allowed: on one machine the direct (host) pair wins over the relay
    assert network["candidate_pair"]["local"] in ("host", "srflx", "relay")
    assert network["video"]["packets_received"] > 0 and network["video"]["loss"] == 0.0


@relay_only
def test_relay_only_without_a_turn_server_says_so(server):
    changes: list[nt.events.MediaChanged] = []
    with client_for(server, ice_transport_policy="relay", media_timeout=3) as client:
        client.on("client.media", changes.append)
        client.connect(timeout=10)
        wait_until(lambda: any(c.state == "failed" for c in changes), timeout=15)
    (failed,) = [c for c in changes if c.state == "failed"]
    assert "relay-only ICE needs a TURN server" in failed.reason

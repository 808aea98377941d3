"""Through a real HTTP CONNECT proxy (tinyproxy on loopback): the proxy's own log shows each
tunnel; refusals name the proxy and never its password; proxies from the environment are
never used for loopback."""

from __future__ import annotations

import pytest

import navtalk_sync as nt
from navtalk_sync.proxies import Proxy, proxy_for
from navtalk_sync.retry import ReconnectPolicy
from tests.helpers import client_for


def _target(server) -> str:
    return server.url.split("//", 1)[1].split("/", 1)[0]  # host:port


@pytest.mark.timeout(60)
@pytest.mark.parametrize("secure", [False, True], ids=["ws", "wss"])
def test_a_session_goes_through_the_proxy_it_is_given(make_server, make_proxy, secure):
    server = make_server(tls=secure)
    proxy = make_proxy()
    with client_for(server, proxy=proxy.url, ca_file=server.ca_file) as client:
        client.connect(timeout=10)
        assert client.ask("What can you do?", timeout=10)
        client.wait_for_video(timeout=15)  # media goes its own way: not through the proxy
    assert proxy.connects() == [_target(server)]


def test_proxy_credentials_are_sent_and_never_shown(make_server, make_proxy, caplog):
    server = make_server(tls=True)
    proxy = make_proxy(credentials=("alice", "pr0xy-s3cret"))
    with client_for(server, proxy=proxy.url, ca_file=server.ca_file, media=False) as client:
        client.connect(timeout=10)
        assert "pr0xy-s3cret" not in repr(client.settings) + str(client.stats())
        assert client.ask("What can you do?", timeout=10)
    assert proxy.connects() == [_target(server)]
    assert "pr0xy-s3cret" not in caplog.text


def test_wrong_proxy_credentials_fail_with_the_proxys_answer(make_server, make_proxy):
    server = make_server()
    proxy = make_proxy(credentials=("alice", "pr0xy-s3cret"))
    wrong = f"http://alice:wr0ng-pa55@127.0.0.1:{proxy.port}"
    with client_for(server, proxy=wrong, media=False) as client:
        with pytest.raises(nt.ProxyError) as caught:
            client.connect(timeout=10)
    error = caught.value
    assert error.status_code in (401, 407) and error.proxy == f"http://127.0.0.1:{proxy.port}"
    assert "user:password" in str(error) and "wr0ng-pa55" not in str(error)
    assert not ReconnectPolicy.retries(error)


def test_a_proxy_that_refuses_this_machine_is_named(make_server, make_proxy):
    server = make_server()
    proxy = make_proxy(deny=True)
    with client_for(server, proxy=proxy.url, media=False) as client:
        with pytest.raises(nt.ProxyError, match=f"127.0.0.1:{proxy.port}") as caught:
            client.connect(timeout=10)
    assert caught.value.status_code == 403


def test_a_proxy_that_is_not_there_is_named(server):
    with client_for(server, proxy="http://127.0.0.1:9", media=False) as client:
        with pytest.raises(nt.ProxyError, match="the proxy http://127.0.0.1:9") as caught:
            client.connect(timeout=10)
    assert caught.value.status_code is None and ReconnectPolicy.retries(caught.value)


def test_the_avatar_lookup_goes_through_the_same_proxy(make_server, make_proxy):
    server = make_server(tls=True)
    proxy = make_proxy(credentials=("alice", "pr0xy-s3cret"))
    info = nt.get_avatar(
        server.license, name="navtalk.Leo", base_url=server.http_url, ca_file=server.ca_file,
        proxy=proxy.url,
    )  # fmt: skip
    assert info.name == "navtalk.Leo" and proxy.connects() == [_target(server)]


def test_an_environment_proxy_is_never_used_for_loopback(make_server, make_proxy, monkeypatch):
    server = make_server(tls=True)
    proxy = make_proxy()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    with client_for(server, ca_file=server.ca_file, media=False) as client:
        client.connect(timeout=10)
    nt.get_avatar(server.license, name="navtalk.Leo", base_url=server.http_url,
                  ca_file=server.ca_file)  # fmt: skip
    assert proxy.connects() == []
    with client_for(server, ca_file=server.ca_file, proxy=proxy.url, media=False) as client:
        client.connect(timeout=10)  # an explicit proxy= is always used
    assert proxy.connects() == [_target(server)]


@pytest.mark.parametrize(
    ("setting", "environment", "host", "expected"),
    [
        (None, {"HTTPS_PROXY": "http://p:3128"}, "transfer.navtalk.ai", Proxy("p", 3128)),
        (None, {"https_proxy": "http://u:pw@p:3128"}, "transfer.navtalk.ai", Proxy("p", 3128, "u", "pw")),
        (None, {"HTTPS_PROXY": "http://p:3128", "NO_PROXY": ".navtalk.ai"}, "transfer.navtalk.ai", None),
        (None, {"HTTPS_PROXY": "http://p:3128", "no_proxy": "*"}, "transfer.navtalk.ai", None),
        (None, {"HTTPS_PROXY": "http://p:3128"}, "localhost", None),
        (None, {"HTTPS_PROXY": "http://p:3128"}, "::1", None),
        (None, {"HTTPS_PROXY": "socks5://p:1080"}, "transfer.navtalk.ai", None),
        (None, {}, "transfer.navtalk.ai", None),
        (False, {"HTTPS_PROXY": "http://p:3128"}, "transfer.navtalk.ai", None),
        ("http://q:8080", {"HTTPS_PROXY": "http://p:3128"}, "127.0.0.1", Proxy("q", 8080)),
    ],
)  # fmt: skip
def test_which_proxy_a_connection_takes(monkeypatch, setting, environment, host, expected):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert proxy_for(setting, host, secure=True) == expected

"""Settings validation, URL building, licence redaction."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest

import navtalk_sync as nt
from navtalk_sync.config import build_url

KEY = "sk_navtalk_" + "A1b2C3d4" * 4


def settings(**kw) -> nt.Settings:
    kw.setdefault("avatar_name", "navtalk.Leo")
    return nt.Settings.create(KEY, **kw)


def query(s: nt.Settings) -> dict[str, list[str]]:
    return parse_qs(urlsplit(build_url(s)).query)


def test_default_endpoint_and_query():
    url = build_url(settings())
    assert url.startswith("wss://transfer.navtalk.ai/wss/v2/realtime-chat?")
    assert query(settings()) == {"license": [KEY], "name": ["navtalk.Leo"]}


def test_avatar_id_wins_and_only_it_is_sent():
    q = query(settings(avatar_id="3f1c0a9e5b7d4c2a9e8f6b1d0c3a5e7f"))
    assert q["avatarId"] == ["3f1c0a9e5b7d4c2a9e8f6b1d0c3a5e7f"]
    assert "name" not in q


def test_values_are_percent_encoded():
    url = build_url(settings(avatar_name="Anna & Co/ü?=#", model="transparency"))
    raw_query = urlsplit(url).query
    assert "name=Anna%20%26%20Co%2F%C3%BC%3F%3D%23" in raw_query
    assert query(settings(avatar_name="Anna & Co/ü?=#"))["name"] == ["Anna & Co/ü?=#"]
    assert "model=transparency" in raw_query


def test_base_url_override_keeps_path_and_query():
    assert build_url(settings(url="ws://127.0.0.1:9000")).startswith(
        "ws://127.0.0.1:9000/wss/v2/realtime-chat?license="
    )
    url = build_url(settings(url="ws://127.0.0.1:9000/custom/path?region=eu"))
    assert urlsplit(url).path == "/custom/path"
    assert query(settings(url="ws://127.0.0.1:9000/custom/path?region=eu"))["region"] == ["eu"]


def test_licence_from_environment(monkeypatch):
    monkeypatch.setenv("NAVTALK_LICENSE", KEY)
    assert nt.Settings.create(avatar_name="x").license == KEY


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"license": None}, "NAVTALK_LICENSE"),
        ({"license": ""}, "no licence"),
        ({"license": "sk_navtalk_ bad"}, "whitespace"),
        ({"avatar_name": None}, "avatar_id=... or avatar_name"),
        ({"avatar_name": "  "}, "avatar_name must be a non-empty string"),
        ({"url": "http://example.org"}, "ws:// or wss://"),
        ({"url": "ws://127.0.0.1:1/?license=sk_navtalk_zzz"}, "not inside url"),
        ({"connect_timeout": 0}, "connect_timeout must be a number of seconds > 0"),
        ({"connect_timeout": float("inf")}, "<= 604800 (a week), got inf"),
        ({"send_queue_size": 0}, "send_queue_size must be a positive integer"),
        ({"history": "just a string"}, "history must be a list"),
        ({"history": [{"role": "user"}]}, "history entry without text"),
        ({"tools": [{"description": "no name"}]}, "needs at least a 'name'"),
        ({"colour": "blue"}, "unknown setting(s): colour"),
        ({"timeouts": 5}, "timeouts must be an nt.Timeouts, got 5"),
        ({"audio": "loud"}, "audio must be an nt.AudioOptions, got 'loud'"),
        ({"media": False, "record": "x.mp4"}, "record needs media=True"),
        ({"audio_hold_seconds": 601}, "audio_hold_seconds must be at most 600 s"),
        ({"mouth_region": (0.5, 0.5)}, "mouth_region must be None or (x0, y0, x1, y1)"),
        ({"mouth_region": (0.7, 0.5, 0.3, 0.8)}, "0 <= x0 < x1 <= 1"),
        ({"mouth_region": (0, 0, float("nan"), 1)}, "0 <= x0 < x1 <= 1"),
        ({"proxy": "socks5://127.0.0.1:1080"}, "an HTTP CONNECT proxy"),
        ({"proxy": "http://127.0.0.1"}, "proxy's URL: http://host:port"),
        ({"proxy": "http://127.0.0.1:port"}, "proxy's URL: http://host:port"),
        ({"proxy": True}, "proxy must be None (from the environment), False (none)"),
        ({"ca_file": "/nonexistent/ca.pem"}, "ca_file must be the path of a PEM file"),
        ({"ca_file": __file__}, "holds no usable CA certificate"),
        ({"ssl_context": "insecure"}, "ssl_context must be an ssl.SSLContext"),
    ],
)
def test_bad_settings_say_what_is_wrong(monkeypatch, kwargs, fragment):
    monkeypatch.delenv("NAVTALK_LICENSE", raising=False)
    kwargs = {"license": KEY, "avatar_name": "navtalk.Leo", **kwargs}
    license = kwargs.pop("license")
    with pytest.raises(nt.ConfigError) as info:
        nt.Settings.create(license, **kwargs)
    assert fragment in str(info.value)
    assert isinstance(info.value, ValueError)
    assert "sk_navtalk_" not in str(info.value)


def test_grouped_settings_are_value_objects_and_the_flat_keywords_still_work():
    grouped = settings(
        timeouts=nt.Timeouts(connect=5, close=2),
        limits=nt.Limits(send_queue=64),
        media=nt.MediaOptions(stall_timeout=4, required=True),
        audio=nt.AudioOptions(chunk_samples=480),
    )
    flat = settings(
        connect_timeout=5,
        close_timeout=2,
        send_queue_size=64,
        stall_timeout=4,
        media_required=True,
        audio_chunk_samples=480,
    )
    assert grouped == flat
    assert grouped.timeouts.connect == 5 and grouped.timeouts.send == 10  # the rest: defaults
    assert grouped.media is not None and grouped.media.stall_timeout == 4


def test_a_value_object_checks_its_fields_when_it_is_made():
    with pytest.raises(nt.ConfigError, match="close_timeout must be a number of seconds"):
        nt.Timeouts(close=float("nan"))
    with pytest.raises(nt.ConfigError, match="audio_chunk_samples must be an integer from 1"):
        nt.AudioOptions(chunk_samples=0)


def test_a_flat_keyword_overrides_that_field_of_the_group_beside_it():
    made = settings(timeouts=nt.Timeouts(connect=5, close=2), close_timeout=3)
    assert made.timeouts == nt.Timeouts(connect=5, close=3)


def test_relay_only_ice_is_refused_where_aiortc_cannot_do_it():
    from navtalk_sync.rtc.ice import RELAY_ONLY_MISSING

    if not RELAY_ONLY_MISSING:  # aiortc 1.16+ (Python 3.11+): the setting is taken
        assert nt.MediaOptions(ice_transport_policy="relay").ice_transport_policy == "relay"
        return
    with pytest.raises(nt.ConfigError, match="needs aiortc 1.16 or newer"):
        nt.MediaOptions(ice_transport_policy="relay")


def test_media_false_means_no_media_options_at_all():
    assert settings(media=False).media is None
    assert settings(media=True).media == nt.MediaOptions()
    assert settings(media=False, speaker=None).media is None  # a default given flat is fine
    assert settings(media=False, speaker=False, stall_timeout=5).media is None  # nothing to do
    with pytest.raises(nt.ConfigError, match="media_timeout must be a number of seconds"):
        settings(media=False, media_timeout="x")  # checked, even with media off
    with pytest.raises(nt.ConfigError, match="timeouts must be an nt.Timeouts, got True"):
        settings(timeouts=True, connect_timeout=5)  # True means the defaults for media only


def test_history_keeps_user_turns_only():
    s = settings(
        history=[
            "hi",
            {"role": "assistant", "text": "hello"},
            {"role": "user", "content": "more"},
            " ",
        ]
    )
    assert s.history == ("hi", "more")


def test_licence_is_never_shown():
    s = settings()
    client = nt.NavTalkClient(KEY, avatar_name="navtalk.Leo")
    for text in (repr(s), str(s), repr(client)):
        assert KEY not in text and "sk_navtalk_" not in text
    assert nt.redact(build_url(s)).count("license=***") == 1
    assert KEY not in nt.redact(f"key {KEY} and url ?license={KEY}&x=1")


def test_custom_licence_format_is_redacted_too(caplog):
    odd = "MyCompanyKey-1234567890"
    nt.Settings.create(odd, avatar_name="x")
    logging.getLogger("navtalk_sync.client").warning("using %s", odd)
    assert odd not in caplog.text and "***" in caplog.text
    assert odd not in nt.redact(f"prefix {odd} suffix")

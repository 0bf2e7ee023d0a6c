"""Channel construction: loopback-only plaintext, options, metadata, config hygiene."""

from __future__ import annotations

import pytest

from monitor.endpoints import is_loopback
from monitor.feed.backoff import CAP, JITTER
from monitor.feed.channel import RECONNECT_BACKOFF_MS, channel_options, metadata, open_channel
from monitor.feed.classify import SLOW_RETRY_S
from monitor.feed.config import FeedConfig


@pytest.mark.parametrize("endpoint", ["invest-public-api.tbank.ru:443", "10.0.0.1:8080", "[2001:db8::1]:443"])
async def test_plaintext_is_refused_for_non_loopback(endpoint: str) -> None:
    """Plaintext to anything but loopback is a clear ValueError."""
    with pytest.raises(ValueError, match="plaintext is only allowed for loopback"):
        open_channel(FeedConfig(endpoint=endpoint, plaintext=True))


@pytest.mark.parametrize("endpoint", ["127.0.0.1:1", "localhost:2", "[::1]:3", "127.8.9.10:4"])
async def test_plaintext_is_allowed_for_loopback(endpoint: str) -> None:
    """The local simulator can be reached without TLS."""
    channel = open_channel(FeedConfig(endpoint=endpoint, plaintext=True))
    await channel.close()


def test_is_loopback() -> None:
    assert is_loopback("::1") and is_loopback("LOCALHOST") and not is_loopback("example.com")


def test_options_follow_the_keepalive_advice() -> None:
    """Keepalive ≥ 60 s, 20 s timeout, no pings without calls, 10 MiB messages, user agent."""
    options = dict(channel_options(FeedConfig(keepalive_time_ms=10_000, app_name="me.monitor")))
    assert options["grpc.keepalive_time_ms"] == 60_000
    assert options["grpc.keepalive_timeout_ms"] == 20_000
    assert options["grpc.keepalive_permit_without_calls"] == 0
    assert options["grpc.max_receive_message_length"] == 10 * 1024 * 1024
    assert str(options["grpc.primary_user_agent"]).startswith("me.monitor/")


def test_options_leave_every_connect_to_the_feed() -> None:
    """gRPC core's own reconnect backoff, even at the low end of its ±20 % jitter, is longer than
    the feed's largest delay, so core never reconnects between two feed attempts; each channel
    has its own subchannels (a replacement must not share a failed one's backoff)."""
    options = dict(channel_options(FeedConfig()))
    assert options["grpc.initial_reconnect_backoff_ms"] == RECONNECT_BACKOFF_MS
    assert options["grpc.max_reconnect_backoff_ms"] == RECONNECT_BACKOFF_MS
    longest_feed_delay = max(CAP, SLOW_RETRY_S) * (1 + JITTER)
    assert longest_feed_delay < RECONNECT_BACKOFF_MS / 1000 * (1 - JITTER)
    assert options["grpc.use_local_subchannel_pool"] == 1
    assert "grpc.min_reconnect_backoff_ms" not in options


def test_metadata_and_repr_hide_nothing_but_the_token() -> None:
    """The bearer header carries the token; the config's repr never does."""
    config = FeedConfig(token="t.secret-token", app_name="x")
    assert metadata(config) == (("authorization", "Bearer t.secret-token"), ("x-app-name", "x"))
    assert "t.secret-token" not in repr(config)
    assert "t.secret-token" not in str(config)


def test_stale_after_defaults_to_three_ping_delays() -> None:
    assert FeedConfig(ping_delay_ms=15_000).stale_after == 45.0
    assert FeedConfig(stale_after_s=7.0).stale_after == 7.0


def test_from_settings_reads_every_field() -> None:
    """FeedConfig.from_settings maps the connection and feed sections (overrides win)."""
    from pydantic import SecretStr

    from monitor.settings import ConnectionSettings, FeedSettings, Settings

    settings = Settings(
        connection=ConnectionSettings(token=SecretStr("t.abc"), ping_delay_ms=30_000),
        feed=FeedSettings(max_streams=2),
    )
    config = FeedConfig.from_settings(settings)
    assert (config.token, config.ping_delay_ms, config.max_streams, config.mode) == (
        "t.abc",
        30_000,
        2,
        "LIVE API",
    )
    demo = FeedConfig.from_settings(settings, endpoint="127.0.0.1:5", token="sim-token", mode="DEMO")
    assert (demo.endpoint, demo.token, demo.mode, demo.plaintext) == (
        "127.0.0.1:5",
        "sim-token",
        "DEMO",
        True,
    )

"""Why a channel cannot connect, in the user's words: DNS, refused, unreachable, timed out, TLS."""

from __future__ import annotations

import asyncio
import socket

import pytest

from monitor.clock import SystemClock
from monitor.feed.config import FeedConfig
from monitor.feed.connectivity import channel_problem
from monitor.feed.health import ConnectionState, HealthEvent
from monitor.feed.supervisor import Feed
from monitor.market import Interval, WatchKey
from tests.feed.feedkit import wait_for

# gRPC core's UNAVAILABLE details, as a fail-fast call reports them.
REFUSED = (
    "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:51195: "
    "Failed to connect to remote host: Connection refused"
)
DNS = (
    "DNS resolution failed for invest-public-api.tinkof.ru:443: C-ares status is not ARES_SUCCESS "
    "qtype=A name=invest-public-api.tinkof.ru is_balancer=0: Domain name not found"
)
NATIVE_DNS = "DNS resolution failed for no-such-host:443: UNKNOWN: Name or service not known"
NO_ROUTE = "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.1.2.3:443: No route to host"
TIMED_OUT = "failed to connect to all addresses; last error: UNKNOWN: ipv4:10.1.2.3:443: Connection timed out"
TLS = "failed to connect to all addresses; last error: ssl_error: CERTIFICATE_VERIFY_FAILED: self signed"


@pytest.mark.parametrize(
    ("details", "expected"),
    [
        (REFUSED, "connection refused: nothing listens on that host and port"),
        (
            DNS,
            "cannot resolve invest-public-api.tinkof.ru (DNS): "
            "check the host name in the endpoint, or the network",
        ),
        (
            NATIVE_DNS,
            "cannot resolve no-such-host (DNS): check the host name in the endpoint, or the network",
        ),
        (NO_ROUTE, "no route to the host: check the network, VPN or proxy"),
        (TIMED_OUT, "the connection timed out: a firewall or proxy may drop it"),
        ("failed to connect to all addresses; last error: UNKNOWN: Socket closed", None),
        ("", None),
    ],
)
def test_failed_connects_get_a_reason(details: str, expected: str | None) -> None:
    assert channel_problem(details, None) == expected


def test_tls_still_comes_first() -> None:
    reason = channel_problem(TLS, None)
    assert reason is not None and reason.startswith(
        "TLS handshake failed (certificate not trusted: self signed)"
    )


async def test_a_refused_port_is_the_reason_from_the_first_attempt_and_keeps_the_attempt() -> None:
    """Nothing listens on the port: health says so while CONNECTING (before, only the log did, and
    the stream's reason read 'no confirmation within 1s'); the retry count is not reset by it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = FeedConfig(endpoint=f"127.0.0.1:{port}", token="t", plaintext=True, connect_timeout_s=1.0)
    feed = Feed(config=config, clock=SystemClock())
    events: list[HealthEvent] = []
    feed.add_event_listener(events.append)
    feed.watch([WatchKey("SBER_TQBR", Interval.M1)])
    runner = asyncio.ensure_future(feed.run())
    try:
        refused = "connection refused: nothing listens on that host and port"
        await wait_for(lambda: feed.health.channel_problem == refused, what="the channel's reason")
        await wait_for(lambda: feed.health.attempt >= 2, timeout=20, what="two reconnect attempts")
        assert feed.health.state is ConnectionState.RECONNECTING and feed.health.last_reason == refused
        retries = [e for e in events if e.state is ConnectionState.RECONNECTING]
        assert retries and all(e.reason == refused for e in retries)
        assert [e.attempt for e in retries] == sorted(e.attempt for e in retries)  # never back to 0
    finally:
        await feed.close()
        runner.cancel()

"""The feed through a TCP fault proxy: latency, a slow link, blackhole, RST storm, refusals, drops.

Each test runs a simulator at SPEED, a FaultProxy in front of it and a feed through the proxy
(tests/netfault/rig.py), switches one fault on and off, and asserts what holds on main: no closed
candle lost or duplicated against the simulator's history, the health states in order, and a
bound on the TCP connections the proxy saw. The figures (connections per minute of outage,
detection and recovery times) go to the test's `record_property` and to tests/perf/bench_faults.py.

Closed is final (asserted by `whole`, so by every test): a closed candle's values change after
its close only where the server itself corrected the period (`server_corrections`).

One backoff: in each outage the proxy sees no more connections than the feed announced attempts
+ 3 (`record_outage`); gRPC core makes none of its own (feed/connection.py).

A slow link: LAGGING while LIVE (not STALE), cleared once the link is restored and caught up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from monitor.market import CandleSeries
from tests.feed.feedkit import WATCH, book_matches, wait_for
from tests.netfault.measure import (
    connections_between,
    connections_per_outage_minute,
    feed_attempts,
    server_corrections,
)
from tests.netfault.rig import Rig, rig

SPEED = 120.0
"""Sim seconds per wall second: a minute candle every 0.5 s, 0.3 s of latency is 36 sim s."""
NET: dict[str, Any] = {
    "stale_after_s": 120.0,  # 1 wall s of silence
    "connect_timeout_s": 60.0,  # an attempt that gets no answer ends after 0.5 wall s
}
ONE_BACKOFF_SLACK = 3
"""Connections an outage may see beyond the feed's attempts (a call on a channel gone IDLE)."""
RecordProperty = Callable[[str, object], None]


def no_duplicates(series: CandleSeries) -> bool:
    times = [c.time for c in series]
    return times == sorted(set(times))


async def settled(net: Rig) -> None:
    """LIVE, and past the first attempt's open deadline (the watchdog sleeps until it first)."""
    await net.run.live()
    opened = net.clock.now()
    await wait_for(lambda: net.clock.now() > opened + NET["connect_timeout_s"], 5, "the open deadline")


async def whole(net: Rig) -> None:
    """Every watched series closed up to the previous period, equal to the simulator's closed
    candles over that span, none held twice.

    Closed up to date first: the comparison runs up to the newest closed candle held, so a book
    whose gap is not backfilled yet would match trivially.
    """
    for key in WATCH:
        await wait_for(lambda k=key: net.closed_behind(k) <= 1, 10, f"{key.id} closed up to date")  # type: ignore[misc]
        await book_matches(net.run, net.sim, key.id, timeout=10)
        assert no_duplicates(net.series(key)), key
        series_key = net.key(key)
        changed = set(net.closes.changed_after_close(series_key))
        corrected = server_corrections(net.sim, series_key, changed)
        assert changed <= corrected, (
            f"{key.id}: closed, then changed without a server correction: {changed - corrected}"
        )


def outage_states(net: Rig, since: float) -> list[str]:
    """The connection states from `since` on, LAGGING left out: once it exists, a silent link may
    say LAGGING on its way to STALE (its lag grows), which these tests do not pin down."""
    states = [s for s in net.timeline.states(since) if s != "LAGGING"]
    return [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]


def record_outage(net: Rig, record: RecordProperty, start: float, end: float, start_clock: float) -> int:
    """Records the outage's connections (count and per wall minute) beside the feed's attempts, and
    asserts one backoff: no more connections than the feed's attempts + ONE_BACKOFF_SLACK."""
    count = connections_between(net.proxy, start, end)
    attempts = feed_attempts(net.run.events, start_clock, net.clock.now())
    record("outage_wall_s", round(end - start, 3))
    record("tcp_connections", count)
    record(
        "tcp_connections_per_outage_minute", round(connections_per_outage_minute(net.proxy, start, end), 1)
    )
    record("feed_attempts", attempts)
    assert count <= attempts + ONE_BACKOFF_SLACK, (count, attempts)
    return count


async def test_latency_keeps_the_stream_live_and_the_book_whole(record_property: RecordProperty) -> None:
    """0.3 s (+0.1 s jitter) each way on the open connection: no reconnect, closed candles match."""
    async with rig(SPEED, **NET) as net:
        await settled(net)
        await whole(net)
        since = time.monotonic()
        net.proxy.set_latency(0.3, jitter=0.1)
        periods = net.clock.now()
        await wait_for(lambda: net.clock.now() > periods + 4 * 60, 10, "four periods under latency")
        await whole(net)
        # LAGGING may appear once it exists (36 sim s of lag); silence or a reconnect may not.
        assert set(net.timeline.states(since)) <= {"LIVE", "LAGGING"}
        assert net.feed.health.reconnects == 0 and net.proxy.connections == 1
        key = net.key(WATCH[0])
        record_property("closes_per_period_max", max(net.closes.per_period(key).values()))


async def test_a_throttled_link_lags_then_catches_up(record_property: RecordProperty) -> None:
    """3 kB/s (the stream needs ~50): the book falls periods behind; restored, it catches up whole."""
    async with rig(SPEED, **NET) as net:
        await settled(net)
        await whole(net)
        since = time.monotonic()
        net.proxy.set_bandwidth(3_000)
        await wait_for(lambda: net.periods_behind(WATCH[0]) >= 2, 10, "the stream to lag two periods")
        # The slow link is told from silence and from LIVE: data keeps arriving, late. The bound
        # is in wall seconds (LAG_BOUND_S), so at this speed the lag needs a few seconds to grow.
        await wait_for(lambda: net.feed.health.lagging is not None, 20, "LAGGING")
        lagged_after = time.monotonic() - since
        assert net.feed.health.state.name == "LIVE"  # not STALE: messages still come
        record_property("lagging_after_wall_s", round(lagged_after, 2))
        record_property("states_throttled", " ".join(net.timeline.states(since)))
        net.proxy.restore()
        await wait_for(lambda: net.periods_behind(WATCH[0]) == 0, 10, "the stream to catch up")
        await net.run.live()
        await wait_for(lambda: net.feed.health.lagging is None, 10, "caught up")
        await whole(net)
        assert net.timeline.now == "LIVE"


async def test_blackhole_is_stale_then_live_after_restore(record_property: RecordProperty) -> None:
    """Nothing forwarded, the socket held open: STALE, RECONNECTING; restored: LIVE, gap filled."""
    async with rig(SPEED, **NET) as net:
        await settled(net)
        await whole(net)
        start, start_clock = time.monotonic(), net.clock.now()
        net.proxy.blackhole()
        await wait_for(lambda: net.timeline.now == "RECONNECTING", 5, "RECONNECTING")
        await wait_for(lambda: net.feed.health.attempt >= 2, 10, "two reconnect attempts")
        assert net.proxy.open_connections >= 1  # half-dead, not closed: nothing told the client
        # The silent connection is not trusted again: the attempt after the silence connects anew
        # (a half-open connection would otherwise hold the feed until the keepalive, 80 s).
        await wait_for(lambda: net.proxy.connections >= 2, 10, "a fresh connection after the silence")
        end = time.monotonic()
        net.proxy.restore()
        await net.run.live()
        states = outage_states(net, start)
        assert states[:3] == ["LIVE", "STALE", "RECONNECTING"] and states[-1] == "LIVE", states
        record_outage(net, record_property, start, end, start_clock)
        await whole(net)


async def test_an_rst_storm_is_survived_with_the_book_whole(record_property: RecordProperty) -> None:
    """Every new connection reset as soon as it is up, six times: RECONNECTING, then LIVE, whole."""
    async with rig(SPEED, **NET) as net:
        await settled(net)
        await whole(net)
        start, start_clock = time.monotonic(), net.clock.now()
        for _ in range(6):
            seen = net.proxy.connections
            net.proxy.reset()
            await wait_for(lambda n=seen: net.proxy.connections > n, 10, "the next connection")  # type: ignore[misc]
        end = time.monotonic()
        await net.run.live()
        assert "RECONNECTING" in net.timeline.states(start) and net.timeline.now == "LIVE"
        assert net.feed.health.reconnects >= 1
        record_outage(net, record_property, start, end, start_clock)
        await whole(net)


@pytest.mark.parametrize("counted", [True, False], ids=["accept-and-rst", "econnrefused"])
async def test_refused_from_the_start_then_restored(record_property: RecordProperty, counted: bool) -> None:
    """No connection is let through until restore: RECONNECTING attempts, then LIVE and history."""
    async with rig(SPEED, **NET) as net:
        net.proxy.refuse(counted=counted)
        start, start_clock = time.monotonic(), net.clock.now()
        await wait_for(lambda: net.feed.health.attempt >= 3, 10, "three reconnect attempts")
        end = time.monotonic()
        assert net.timeline.now != "LIVE" and net.proxy.open_connections == 0
        net.proxy.restore()
        await net.run.live()
        states = outage_states(net, start)
        assert states[0] == "CONNECTING" and "RECONNECTING" in states and states[-1] == "LIVE", states
        count = record_outage(net, record_property, start, end, start_clock)
        if counted:
            assert count >= 1
        else:
            assert count == 0  # the kernel refused: the proxy never saw them (nothing to count)
        await whole(net)


async def test_drop_and_restore_fills_the_gap(record_property: RecordProperty) -> None:
    """The connection reset and new ones refused for three sim minutes, then restored: gap filled."""
    clock_periods = 3
    async with rig(SPEED, **NET) as net:
        await settled(net)
        await whole(net)
        start, start_clock = time.monotonic(), net.clock.now()
        net.proxy.refuse()
        net.proxy.reset()
        await wait_for(lambda: net.clock.now() > start_clock + clock_periods * 60, 10, "the outage")
        end = time.monotonic()
        net.proxy.restore()
        await net.run.live()
        states = outage_states(net, start)
        assert states[:2] == ["LIVE", "RECONNECTING"] and states[-1] == "LIVE", states
        record_outage(net, record_property, start, end, start_clock)
        await whole(net)
        series = net.series(WATCH[0])
        outage = [c for c in series if start_clock <= c.time < start_clock + clock_periods * 60 - 60]
        assert outage and all(c.closed for c in outage), "the outage's periods were not backfilled"

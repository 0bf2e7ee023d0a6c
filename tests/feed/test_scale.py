"""Scale: 600 candle series over 400 instruments on two streams at the real 300-per-stream limit."""

from __future__ import annotations

from dataclasses import replace

from monitor.clock import ScaledClock
from monitor.feed.health import ConnectionState, WatchState
from monitor.feed.supervisor import Feed
from monitor.market import Interval, SeriesKey, WatchKey
from monitor.sim import SimServer
from monitor.sim.catalogue import CATALOGUE, Catalogue
from tests.feed.feedkit import Running, feed_config, patient, sim_config, wait_for
from tests.sim.helpers import candle_subscriptions

SPEED = 60.0
"""Sim seconds per wall second: a rate-limit window (one sim minute) passes in a wall second, so a
feed that meets a per-minute limit while resolving 400 instruments waits a second, not a minute."""


def scale_watch(catalogue: Catalogue) -> tuple[WatchKey, ...]:
    """400 generated instruments spread over every kind on 1m, the first 200 of them also on 5m."""
    generated = [i.instrument.symbol for i in catalogue.items[len(CATALOGUE) :]]
    ids = [generated[k * len(generated) // 400] for k in range(400)]
    return tuple(WatchKey(i, Interval.M1) for i in ids) + tuple(WatchKey(i, Interval.M5) for i in ids[:200])


def all_live(feed: Feed, watch: tuple[WatchKey, ...]) -> bool:
    """Connection LIVE, every series confirmed by the server and streaming (a candle arrived)."""
    if feed.health.state is not ConnectionState.LIVE:
        return False
    for key in watch:
        entry = feed.health.watch.get(key)
        if entry is None or entry.state is not WatchState.ACTIVE or entry.uid is None:
            return False
        series = feed.book.find(SeriesKey(entry.uid, key.interval))
        if series is None or series.received_at is None:
            return False
    return True


async def test_six_hundred_series_over_four_hundred_instruments_reach_live_on_two_streams() -> None:
    clock = ScaledClock(speed=SPEED)
    sim = SimServer(replace(sim_config(), speed=SPEED), clock=clock)
    assert sim.config.max_subscriptions_per_stream == 300  # the real limit, not a lowered one
    watch = scale_watch(sim.state.catalogue)
    kinds = {item.kind for key in watch if (item := sim.state.catalogue.resolve(key.id)) is not None}
    assert len(set(watch)) == 600 and len({key.id for key in watch}) == 400 and len(kinds) == 5
    await sim.start()
    feed = Feed(config=feed_config(sim, history_candles=0, **patient(SPEED)), clock=clock)
    assert feed.config.subscriptions_per_stream == 300
    feed.watch(watch)
    run = Running(feed)
    try:
        # A bound for a loaded machine, not a budget: bench_scale times it.
        await wait_for(lambda: all_live(feed, watch), 100, "600 series LIVE")
        assert sorted(candle_subscriptions(sim.stats).values()) == [300, 300]
        assert sim.stats.limit_exceeded == 0 and sim.stats.too_many_requests == 0
        assert feed.health.streams == 2
        # The bulk listings resolve most; what they lack is looked up by itself, once; nothing is refused.
        listings = ("Shares", "Etfs", "Bonds", "Futures", "Currencies")
        assert max(sim.stats.lookups.values(), default=0) <= 1
        assert all(sim.stats.rate_limited[method] == 0 for method in ("GetInstrumentBy", *listings))
    finally:
        await run.stop()
        await sim.stop()

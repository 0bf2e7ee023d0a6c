"""A simulator, a FaultProxy in front of it and a feed through the proxy, started and stopped together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from monitor.clock import ScaledClock
from monitor.feed.supervisor import Feed
from monitor.market import CandleSeries, SeriesKey, WatchKey
from monitor.sim import SimServer
from tests.feed.feedkit import WATCH, Running, feed_config, sim_config
from tests.netfault.measure import CloseLog, Timeline
from tests.netfault.proxy import FaultProxy


@dataclass
class Rig:
    """What a network test drives (`proxy`) and reads (`run`, `timeline`, `closes`, `sim`)."""

    clock: ScaledClock
    sim: SimServer
    proxy: FaultProxy
    run: Running
    timeline: Timeline
    closes: CloseLog

    @property
    def feed(self) -> Feed:
        return self.run.feed

    def key(self, watch: WatchKey) -> SeriesKey:
        return SeriesKey(self.run.uid(watch.id), watch.interval)

    def series(self, watch: WatchKey) -> CandleSeries:
        found = self.feed.book.find(self.key(watch))
        assert found is not None, watch
        return found

    def periods_behind(self, watch: WatchKey) -> int:
        """Periods between the newest one the book holds for `watch` and the sim's current one
        (0 while the stream keeps up: the forming candle is the current period)."""
        return self._behind(watch, [c.time for c in self.series(watch)])

    def closed_behind(self, watch: WatchKey) -> int:
        """Periods between the newest closed candle held and the current period (1 when whole)."""
        return self._behind(watch, [c.time for c in self.series(watch) if c.closed])

    def _behind(self, watch: WatchKey, times: list[int]) -> int:
        current = watch.interval.start_of(int(self.clock.now()))
        newest = max(times, default=current - 1_000 * watch.interval.seconds)
        return max(0, (current - newest) // watch.interval.seconds)


@asynccontextmanager
async def rig(
    speed: float, watch: tuple[WatchKey, ...] = WATCH, *, clock: ScaledClock | None = None, **overrides: Any
) -> AsyncIterator[Rig]:
    """A sim on `speed`, the proxy in front of it and a feed (feedkit's config + `overrides`)."""
    clock = clock or ScaledClock(speed=speed)
    sim = SimServer(replace(sim_config(), speed=speed), clock=clock)
    await sim.start()
    proxy = FaultProxy(sim.address)
    try:
        proxy.start()
        feed = Feed(config=feed_config(sim, **{"endpoint": proxy.address, **overrides}), clock=clock)
        timeline, closes = Timeline(feed), CloseLog(feed)
        feed.watch(watch)
        run = Running(feed)
        try:
            yield Rig(clock, sim, proxy, run, timeline, closes)
        finally:
            await run.stop()
    finally:
        proxy.stop()
        await sim.stop()

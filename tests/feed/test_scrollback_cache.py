"""Scroll-back reads the cache first: a complete older range is paged in without GetCandles, and
only what lies beyond it is fetched (and saved back with its range)."""

from __future__ import annotations

from typing import Any

from monitor.feed.history import LIMIT_CAP
from monitor.feed.supervisor import Feed
from monitor.feed.testing import MemoryCache
from monitor.market import CandleSeries, Interval, SeriesKey, WatchKey
from monitor.pb import marketdata_pb2
from tests.feed.feedkit import Running, closed_mismatch, feed_config, wait_for
from tests.feed.test_cache_restart import Spy, spied_sim  # noqa: F401  (the simulator with GetCandles spies)

KEY = WatchKey("SBER_TQBR", Interval.M1)
DAY = 86_400
CACHED_S = 2 * DAY
"""The complete range the cache holds before the live history: more than one page from the cache."""


def _series(run: Running) -> CandleSeries | None:
    instrument = run.feed.instrument(KEY.id)
    return None if instrument is None else run.feed.book.find(SeriesKey(instrument.uid, KEY.interval))


async def _started(sim: Any, clock: Any, cache: MemoryCache) -> tuple[Running, CandleSeries, int]:
    """A feed on `cache` watching KEY once its initial history is in (the cache was empty then):
    the run, the series and its oldest candle's time."""
    run = Running(Feed(config=feed_config(sim, history_candles=20), clock=clock, cache=cache))
    run.feed.watch((KEY,))
    await run.live()
    await wait_for(lambda: (s := _series(run)) is not None and s.history_loaded, 10, "initial history")
    series = _series(run)
    assert series is not None and series.oldest is not None
    return run, series, series.oldest.time


async def _page(run: Running) -> None:
    run.feed.load_older(KEY)
    await wait_for(lambda: not run.feed.view(KEY).history.loading, 30, "a page of older candles")
    assert run.feed.view(KEY).history.error is None


async def test_scroll_back_pages_a_complete_cached_range_without_calls_then_fetches_beyond(
    spied_sim: tuple[Any, list[Spy]],  # noqa: F811
    clock: Any,
) -> None:
    sim, spies = spied_sim
    cache = MemoryCache()
    run, series, live_oldest = await _started(sim, clock, cache)
    try:
        # The cache holds the two days before the live history, complete, as the simulator has them.
        key = series.key
        cached_start = live_oldest - CACHED_S
        truth = sim.history(key.uid, Interval.M1, cached_start, live_oldest)
        cache.save(key, truth, (cached_start, live_oldest))
        older: list[tuple[int, int]] = []  # GetCandles asked for anything before the live history

        def spy(request: marketdata_pb2.GetCandlesRequest) -> None:
            start = getattr(request, "from").seconds
            if start < live_oldest:
                older.append((start, request.to.seconds))

        spies.append(spy)

        await _page(run)
        assert older == []  # the page came from the cache
        assert series.oldest is not None
        assert series.oldest.time == live_oldest - LIMIT_CAP[Interval.M1] * 60  # one cache page's worth
        await _page(run)
        assert older == []
        assert series.oldest.time == cached_start  # the whole cached range is in, still no call

        await _page(run)  # beyond the cache: fetched
        assert len(older) == 1 and older[0][1] == cached_start
        assert series.oldest.time < cached_start
        assert closed_mismatch(run, sim, KEY.id) is None  # no gap or duplicate at either seam
        # The fetched window is saved back as complete: the cache now reaches past where it started.
        assert min(lo for lo, _ in cache.complete[key]) == older[0][0]
        assert cache.candles[key][series.oldest.time] == series.oldest
    finally:
        await run.stop()


async def test_without_a_complete_range_the_cached_candles_do_not_replace_the_fetch(
    spied_sim: tuple[Any, list[Spy]],  # noqa: F811
    clock: Any,
) -> None:
    sim, spies = spied_sim
    cache = MemoryCache()
    run, series, live_oldest = await _started(sim, clock, cache)
    try:
        # Candles without a complete range (stream closes of an earlier run, with holes): not trusted.
        some = sim.history(series.key.uid, Interval.M1, live_oldest - 3600, live_oldest)[::2]
        cache.save(series.key, some)
        older: list[int] = []
        spies.append(lambda r: older.append(r.to.seconds) if r.to.seconds <= live_oldest else None)
        await _page(run)
        assert older == [live_oldest]  # one window fetched, ending where the live history starts
        assert closed_mismatch(run, sim, KEY.id) is None  # the holes between the cached ones are filled
    finally:
        await run.stop()

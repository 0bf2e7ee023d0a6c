"""The backfill with a cache: drawn before any call, only the holes fetched, every fetch saved back."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from structlog.testing import capture_logs

from monitor.feed.backfill import CORRECTION_SETTLE_S, Backfiller, fetch_spans
from monitor.feed.cache import holes, settled_end, stream_close_saver
from monitor.feed.history import HistoryClient
from monitor.feed.testing import DEMO_INSTRUMENTS, ManualClock, MemoryCache
from monitor.market import Candle, CandleBook, Interval, Origin, SeriesKey
from tests.feed.test_backfill import FakeHistory, Watched, settle

KEY = SeriesKey("uid", Interval.M1)
T0 = 1_800_000_000 - 1_800_000_000 % 60
DAY = 86_400


def candle(time: int, origin: Origin = Origin.BACKFILL, closed: bool = True) -> Candle:
    return Candle(time, 1.0, 2.0, 0.5, 1.5, 10 + time % 7, closed, origin)


class History(FakeHistory):
    """GetCandles as a script (test_backfill's), with the recent history there too."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self.clock = clock

    async def recent(self, uid: str, interval: Interval, count: int) -> list[Candle]:
        self.calls.append(("recent", count, 0))
        end = interval.start_of(int(self.clock.now()))
        return [candle(t) for t in interval.periods(end - count * interval.seconds, end)]


class BrokenCache(MemoryCache):
    """A cache whose every read fails (a damaged file): the feed carries on without it."""

    def load(self, key: SeriesKey, start: int | None, end: int | None, limit: int) -> list[Candle]:
        raise OSError("disk I/O error")

    def complete_ranges(self, key: SeriesKey) -> list[tuple[int, int]]:
        raise OSError("disk I/O error")


def warm_cache(start: int, end: int) -> MemoryCache:
    """A cache holding every candle of [start, end), known complete there (a previous run's)."""
    cache = MemoryCache()
    cache.save(KEY, [candle(t, Origin.STREAM) for t in KEY.interval.periods(start, end)], (start, end))
    return cache


async def started(
    clock: ManualClock, book: CandleBook, cache: MemoryCache
) -> tuple[Backfiller, History, list[Candle], asyncio.Task[None]]:
    history = History(clock)
    announced: list[Candle] = []
    backfill = Backfiller(
        book=book,
        clock=clock,
        history_candles=5,
        watched=Watched(),
        on_candle=lambda key, c: announced.append(c),
        on_change=lambda: None,
        cache=cache,
    )
    task = asyncio.create_task(backfill.run(cast(HistoryClient, cast(Any, history))))
    return backfill, history, announced, task


async def test_a_warm_series_is_drawn_at_once_then_fetches_only_since_the_complete_range() -> None:
    clock, book = ManualClock(T0 + 600 + 45), CandleBook()
    cache = warm_cache(T0 - 600, T0 + 300)  # the previous run stopped at T0 + 300: a 5 minute break
    backfill, history, announced, task = await started(clock, book, cache)
    backfill.series_changed()  # the series is watched (resolved): drawn before any call
    series = book.series(KEY)
    assert [c.time for c in series] == [T0 + 60 * i for i in range(5)]  # the newest 5 (history_candles)
    assert all(c.origin is Origin.BACKFILL and c.closed for c in series)
    assert announced == series.last() and history.calls == []
    loaded_at_draw = series.history_loaded  # the live lines still wait for the catch-up
    backfill.confirmed(KEY)
    await settle(clock)
    assert history.calls == [("fetch", T0 + 300, T0 + 600)]  # one call: the break only
    assert (loaded_at_draw, series.history_loaded) == (False, True)
    assert [c.time for c in series][-1] == T0 + 540
    assert cache.complete_ranges(KEY) == [(T0 - 600, T0 + 600)]
    assert settled_end(KEY.interval, clock.now(), CORRECTION_SETTLE_S) == T0 + 600
    task.cancel()


async def test_a_series_is_drawn_once_however_often_the_watch_changes() -> None:
    clock, book = ManualClock(T0 + 600), CandleBook()
    cache = warm_cache(T0, T0 + 300)
    backfill, _, _, task = await started(clock, book, cache)
    for _ in range(3):
        backfill.series_changed()
    assert cache.calls["load"] == 1
    task.cancel()


async def test_a_cold_series_loads_the_recent_history_and_saves_it_complete_up_to_the_settled_end() -> None:
    clock, book = ManualClock(T0 + 10), CandleBook()  # 10 s into a period: the last one may change
    cache = MemoryCache()
    backfill, history, _, task = await started(clock, book, cache)
    backfill.series_changed()
    backfill.confirmed(KEY)
    await settle(clock)
    assert history.calls[0] == ("recent", 5, 0)
    assert sorted(cache.candles[KEY]) == [T0 - 300 + 60 * i for i in range(5)]
    # The period that closed 10 s ago may still get its correction: not complete yet.
    assert cache.complete_ranges(KEY) == [(T0 - 300, T0 - 60)]
    task.cancel()


async def test_a_cached_series_too_old_to_catch_up_in_one_window_starts_cold() -> None:
    clock, book = ManualClock(T0 + 3 * DAY), CandleBook()
    cache = warm_cache(T0, T0 + 300)  # three days ago: more than one GetCandles window of 1m
    backfill, history, _, task = await started(clock, book, cache)
    backfill.series_changed()
    assert len(book.series(KEY)) == 0  # nothing drawn: it would sit three days left of the rest
    backfill.confirmed(KEY)
    await settle(clock)
    assert history.calls == [("recent", 5, 0)]
    task.cancel()


async def test_a_gap_fill_takes_what_the_cache_holds_complete_and_fetches_only_the_hole() -> None:
    clock, book = ManualClock(T0 + 5), CandleBook()
    cache = MemoryCache()
    backfill, history, _, task = await started(clock, book, cache)
    backfill.confirmed(KEY)
    await settle(clock)
    book.upsert(KEY, candle(T0, Origin.STREAM, closed=False))
    backfill.lost(KEY)
    # Meanwhile another monitor on the same store saved the first part of the outage, complete.
    cache.save(KEY, [candle(t) for t in KEY.interval.periods(T0 - 60, T0 + 300)], (T0 - 60, T0 + 300))
    clock.advance(600)
    backfill.confirmed(KEY)
    await settle(clock)
    assert history.calls[-1] == ("fetch", T0 + 300, T0 + 600)
    series = book.series(KEY)
    assert all(series.get(t) is not None for t in KEY.interval.periods(T0 - 60, T0 + 600))
    assert list(series.gaps) == [] and list(series.backfilled) == [(T0 - 60, T0 + 600)]
    task.cancel()


async def test_a_retry_that_finds_the_gap_already_filled_reloads_the_recent_history() -> None:
    clock, book = ManualClock(T0 + 45), CandleBook()
    backfill, history, _, task = await started(clock, book, MemoryCache())
    backfill.confirmed(KEY)
    await settle(clock)
    backfill.lost(KEY)
    clock.advance(600)
    history.failures = 1
    backfill.confirmed(KEY)  # fails: a retry is due in 5 s
    await settle(clock)
    backfill.lost(KEY)
    backfill.confirmed(KEY)  # a new stream fills the gap before the retry is due
    await settle(clock)
    assert list(book.series(KEY).gaps) == []
    clock.advance(5)  # the retry finds no gap left
    await settle(clock)
    assert history.calls[-1] == ("recent", 5, 0) and not task.done()
    task.cancel()


async def test_a_cache_that_cannot_be_read_leaves_a_cold_start() -> None:
    clock, book = ManualClock(T0 + 45), CandleBook()
    with capture_logs() as logs:
        backfill, history, _, task = await started(clock, book, BrokenCache())
        backfill.series_changed()
        backfill.confirmed(KEY)
        await settle(clock)
    assert history.calls[0] == ("recent", 5, 0) and book.series(KEY).history_loaded
    assert any(entry["event"] == "cache_read_failed" for entry in logs)
    task.cancel()


def test_only_the_closes_of_the_stream_are_saved_by_the_listener() -> None:
    cache = MemoryCache()
    save = stream_close_saver(cache)
    save(KEY, candle(T0, Origin.STREAM, closed=False))  # forming
    save(KEY, candle(T0 + 60, Origin.BACKFILL))  # history: the backfill saves it with its range
    save(KEY, candle(T0, Origin.STREAM))
    assert cache.calls["save"] == 1 and list(cache.candles[KEY]) == [T0]


def test_holes_are_the_parts_no_complete_range_covers() -> None:
    assert holes(0, 100, []) == [(0, 100)]
    assert holes(0, 100, [(10, 20), (15, 30), (50, 120)]) == [(0, 10), (30, 50)]
    assert holes(0, 100, [(-10, 200)]) == []
    assert holes(40, 60, [(0, 10), (100, 110)]) == [(40, 60)]


def test_holes_one_request_covers_are_fetched_in_one() -> None:
    near = [(T0, T0 + 600), (T0 + 3600, T0 + 4200)]
    assert fetch_spans(Interval.M1, near) == [(T0, T0 + 4200)]
    far = [(T0, T0 + 600), (T0 + 3 * DAY, T0 + 3 * DAY + 600)]  # a 1m window is one day
    assert fetch_spans(Interval.M1, far) == far


def test_a_saved_instrument_is_fresh_until_its_refresh_age() -> None:
    clock = ManualClock(T0)
    cache = MemoryCache(now=clock.now)
    cache.save_instrument("SBER_TQBR", DEMO_INSTRUMENTS[0])
    clock.advance(3599)
    assert cache.instrument("SBER_TQBR", 3600) == DEMO_INSTRUMENTS[0]
    clock.advance(1)
    assert cache.instrument("SBER_TQBR", 3600) is None


def test_the_instruments_refresh_age_is_a_feed_setting() -> None:
    from pydantic import ValidationError

    from monitor.feed.config import FeedConfig
    from monitor.settings import FeedSettings, Settings

    assert FeedConfig.from_settings(Settings(), token="").instrument_max_age_s == 86_400.0
    config = FeedConfig.from_settings(Settings(feed=FeedSettings(instrument_refresh_s=600)), token="")
    assert config.instrument_max_age_s == 600.0
    for wrong in (-1.0, float("inf"), 31 * 86_400.0):
        with pytest.raises(ValidationError, match="instrument_refresh_s"):
            FeedSettings(instrument_refresh_s=wrong)

"""The backfiller: gaps are remembered until a fetch covering them succeeds, whatever happens."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from monitor.feed.backfill import RETRY_FIRST_S, Backfiller
from monitor.feed.history import HistoryClient
from monitor.feed.subscriptions import Signal
from monitor.feed.testing import ManualClock
from monitor.market import Candle, CandleBook, Interval, Origin, SeriesKey

KEY = SeriesKey("uid", Interval.M1)
T0 = 1_800_000_000 - 1_800_000_000 % 60


def candle(time: int, origin: Origin = Origin.STREAM) -> Candle:
    return Candle(time, 1.0, 2.0, 0.5, 1.5, 10, True, origin)


class FakeHistory:
    """Answers fetch/recent from a script; records every call; can be told to fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []
        self.failures = 0

    async def fetch(self, uid: str, interval: Interval, start: int, end: int) -> list[Candle]:
        self.calls.append(("fetch", start, end))
        if self.failures:
            self.failures -= 1
            raise ConnectionError("UNAVAILABLE")
        return [candle(t, Origin.BACKFILL) for t in interval.periods(start, end)]

    async def recent(self, uid: str, interval: Interval, count: int) -> list[Candle]:
        self.calls.append(("recent", count, 0))
        return []


class Watched:
    """The one watched series, KEY."""

    changed = Signal()

    def watching(self, key: SeriesKey) -> bool:
        return key == KEY

    def series_keys(self) -> tuple[SeriesKey, ...]:
        return (KEY,)

    def intervals(self) -> set[Interval]:
        return {KEY.interval}

    def uids(self) -> tuple[str, ...]:
        return (KEY.uid,)


async def settle(clock: ManualClock) -> None:
    for _ in range(20):
        await asyncio.sleep(0)


async def start(book: CandleBook, clock: ManualClock) -> tuple[Backfiller, FakeHistory, asyncio.Task[None]]:
    history = FakeHistory()
    backfill = Backfiller(
        book=book,
        clock=clock,
        history_candles=5,
        watched=Watched(),
        on_candle=lambda key, c: None,
        on_change=lambda: None,
    )
    task = asyncio.create_task(backfill.run(cast(HistoryClient, cast(Any, history))))
    backfill.confirmed(KEY)  # the initial history
    await settle(clock)
    return backfill, history, task


async def test_gap_fill_starts_a_period_early_for_corrections() -> None:
    clock, book = ManualClock(T0 + 5), CandleBook()
    backfill, history, task = await start(book, clock)
    book.upsert(KEY, candle(T0))
    backfill.lost(KEY)
    clock.advance(300)
    backfill.confirmed(KEY)
    await settle(clock)
    assert history.calls[-1] == ("fetch", T0 - 60, T0 + 300)
    assert list(book.series(KEY).gaps) == [] and list(book.series(KEY).backfilled) == [(T0 - 60, T0 + 300)]
    task.cancel()


async def test_a_failed_fill_is_retried_until_it_succeeds() -> None:
    clock, book = ManualClock(T0 + 5), CandleBook()
    backfill, history, task = await start(book, clock)
    book.upsert(KEY, candle(T0))
    backfill.lost(KEY)
    clock.advance(600)
    history.failures = 4
    backfill.confirmed(KEY)
    await settle(clock)
    for delay in (RETRY_FIRST_S, 2 * RETRY_FIRST_S, 4 * RETRY_FIRST_S, 8 * RETRY_FIRST_S):
        assert list(book.series(KEY).gaps) == [(T0 - 60, T0 + 600)]  # shown as missed meanwhile
        clock.advance(delay)
        await settle(clock)
    assert [call[0] for call in history.calls].count("fetch") == 5
    assert list(book.series(KEY).gaps) == []
    task.cancel()


async def test_a_fill_made_while_no_stream_is_up_keeps_the_gap_open() -> None:
    clock, book = ManualClock(T0 + 5), CandleBook()
    backfill, history, task = await start(book, clock)
    book.upsert(KEY, candle(T0))
    backfill.lost(KEY)
    clock.advance(600)
    backfill.confirmed(KEY)
    backfill.lost(KEY)  # the new stream dies before the job runs: nobody delivers T0 + 600
    await settle(clock)
    clock.advance(300)
    backfill.confirmed(KEY)
    await settle(clock)
    fetches = [call for call in history.calls if call[0] == "fetch"]
    assert fetches[-1][1] <= T0 + 600 - 60 and fetches[-1][2] == T0 + 900
    assert all(book.series(KEY).get(t) is not None for t in Interval.M1.periods(T0, T0 + 900))
    task.cancel()


async def test_a_period_closed_moments_ago_is_fetched_again_for_its_correction() -> None:
    clock, book = ManualClock(T0 + 5), CandleBook()
    backfill, history, task = await start(book, clock)
    book.upsert(KEY, candle(T0))
    backfill.lost(KEY)
    clock.advance(295)  # reconnected 10 s after the period T0 + 240 closed
    backfill.confirmed(KEY)
    await settle(clock)
    assert history.calls[-1] == ("fetch", T0 - 60, T0 + 300)
    clock.advance(30)  # the correction is out now
    await settle(clock)
    assert history.calls[-1] == ("fetch", T0 + 240, T0 + 300)
    calls = len(history.calls)
    clock.advance(600)
    await settle(clock)
    assert len(history.calls) == calls  # once, not a chain
    task.cancel()

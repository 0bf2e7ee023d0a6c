"""Scroll-back: `load_older` pages older candles in from GetCandles while the live edge keeps filling."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any, cast

import pytest
import structlog

from monitor.clock import ScaledClock
from monitor.feed.history import HistoryClient, HistoryError
from monitor.feed.scrollback import START_SILENCE_S, ScrollBack
from monitor.feed.supervisor import Feed
from monitor.feed.testing import DEMO_INSTRUMENTS, FakeFeed, ManualClock, wave_candles
from monitor.market import Candle, CandleBook, CandleSeries, Interval, Origin, SeriesKey, WatchKey
from tests.feed.feedkit import Running, closed_mismatch, feed_config, sim_config, wait_for

KEY = WatchKey("SBER_TQBR", Interval.M1)
DAY = 86_400
HISTORY_DAYS = 3.5
"""How far before the sim's now SBER's history starts here: three whole 1m pages and a part."""


def _with_first_candle(server: Any, symbol: str, first: int) -> None:
    """Makes `symbol`'s history start at `first` (its first_1min/first_1day_candle_date)."""
    from monitor.sim.catalogue import CATALOGUE, Catalogue

    items = [
        replace(i, first_1min=first, first_1day=first) if i.instrument.symbol == symbol else i
        for i in CATALOGUE
    ]
    catalogue = Catalogue(items)
    server.state.catalogue = server.state.market.catalogue = catalogue


async def _sim(clock: ScaledClock, **config: Any) -> Any:
    from monitor.sim import SimServer

    server = SimServer(replace(sim_config(), **config), clock=clock)
    now = int(clock.now())
    _with_first_candle(server, "SBER_TQBR", now - now % 60 - int(HISTORY_DAYS * DAY))
    await server.start()
    return server


@pytest.fixture
async def sim(clock: ScaledClock) -> AsyncIterator[Any]:
    server = await _sim(clock)
    try:
        yield server
    finally:
        await server.stop()


async def test_the_sim_serves_no_candle_before_the_instruments_first_candle_date(sim: Any) -> None:
    import grpc

    from monitor.feed.channel import metadata
    from monitor.pb import marketdata_pb2, marketdata_pb2_grpc

    item = sim.state.catalogue.resolve(KEY.id)
    first = item.first_1min

    async def starts(interval: Interval, start: int | None, end: int, limit: int | None = None) -> list[int]:
        request = marketdata_pb2.GetCandlesRequest(instrument_id=item.uid, interval=interval.value)  # type: ignore[arg-type]
        request.to.seconds = end
        if start is not None:
            getattr(request, "from").seconds = start
        if limit is not None:
            request.limit = limit
        async with grpc.aio.insecure_channel(sim.address) as channel:
            stub = marketdata_pb2_grpc.MarketDataServiceStub(channel)
            answer = await stub.GetCandles(request, metadata=metadata(feed_config(sim)))
        return [c.time.seconds for c in answer.candles]

    assert await starts(Interval.M1, first - 3600, first + 600) == list(range(first, first + 600, 60))
    assert await starts(Interval.M1, None, first + 600, limit=100) == list(range(first, first + 600, 60))
    assert await starts(Interval.M1, first - DAY, first) == []
    day = Interval.D1.start_of(item.first_1day)
    assert (await starts(Interval.D1, day - 30 * DAY, day + 3 * DAY))[0] == day


async def _running(sim: Any, clock: ScaledClock, **overrides: Any) -> Running:
    feed = Feed(config=feed_config(sim, **overrides), clock=clock)
    feed.watch((KEY,))
    run = Running(feed)
    await run.live()

    def loaded() -> bool:
        series = _series(run)
        return series is not None and series.history_loaded

    await wait_for(loaded, what="initial history")
    return run


def _series(run: Running) -> CandleSeries | None:
    instrument = run.feed.instrument(KEY.id)
    return None if instrument is None else run.feed.book.find(SeriesKey(instrument.uid, KEY.interval))


async def _page(feed: Feed) -> None:
    """Asks for one older page and waits until it is in."""
    feed.load_older(KEY)
    assert feed.view(KEY).history.loading  # shown at once, before any answer
    await wait_for(lambda: not feed.view(KEY).history.loading, 30, "page of older candles")
    assert feed.view(KEY).history.error is None


def _contiguous(series: CandleSeries) -> bool:
    """No gap and no duplicate: one candle per minute from the oldest to the newest (no sessions)."""
    held = [c.time for c in series]
    return held == list(range(held[0], held[-1] + 60, 60))


async def test_scrolling_back_pages_to_the_start_of_history_equal_to_the_simulators(
    sim: Any, clock: ScaledClock
) -> None:
    run = await _running(sim, clock, history_candles=20)
    try:
        feed, series = run.feed, _series(run)
        assert series is not None and series.newest is not None and series.oldest is not None
        first = feed.view(KEY).history.first_time
        instrument = feed.instrument(KEY.id)
        assert instrument is not None and first == instrument.first_1min  # read from GetInstrumentBy
        assert first is not None and not feed.view(KEY).history.at_start
        live_edge, versions, loaded = series.newest.time, series.version, series.oldest.time
        series.anchor = loaded  # the user looks at the oldest candle
        pages = 0
        while not feed.view(KEY).history.at_start:
            oldest = series.oldest.time
            await _page(feed)
            pages += 1
            assert series.oldest.time < oldest, "every page brings older candles"
            assert pages <= 6
        assert pages == 4  # three whole 1m windows (a day each) and the part down to the first date
        assert series.oldest.time == first  # the sim trades every minute without sessions
        assert first == sim.state.catalogue.resolve(KEY.id).first_1min
        assert _contiguous(series)
        assert closed_mismatch(run, sim, KEY.id) is None
        assert all(c.origin is Origin.BACKFILL and c.closed for c in series if c.time < live_edge - 3600)
        # History, not an outage filled in: no mark below what the initial load brought.
        assert not series.gaps and all(start >= loaded for start, _ in series.backfilled)
        # The live edge went on filling meanwhile.
        await wait_for(lambda: series.newest.time > live_edge + 120, what="new live candles")  # type: ignore[union-attr]
        assert any(
            c.origin is Origin.STREAM for c in series.window(series.index_of(live_edge + 60), len(series))
        )
        assert series.version > versions
        # At the start a request is a no-op.
        feed.load_older(KEY)
        assert not feed.view(KEY).history.loading and feed.view(KEY).history.at_start
    finally:
        await run.stop()


async def _use_up_the_unary_limit(server: Any, uid: str) -> None:
    """Sends cheap MarketDataService calls until the sim refuses one (80002)."""
    import grpc

    from monitor.feed.channel import metadata
    from monitor.pb import marketdata_pb2, marketdata_pb2_grpc

    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = marketdata_pb2_grpc.MarketDataServiceStub(channel)
        request = marketdata_pb2.GetLastPricesRequest(instrument_id=[uid])
        for _ in range(100):
            try:
                await stub.GetLastPrices(request, metadata=metadata(feed_config(server)))
            except grpc.aio.AioRpcError as exc:
                assert exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED and "80002" in (exc.details() or "")
                return
    raise AssertionError("the sim never refused a call")


async def test_a_rate_limited_page_waits_for_the_reset_and_resumes() -> None:
    # A slower sim: a minute (the limit's window) lasts a wall second, longer than a page takes.
    clock = ScaledClock(speed=60.0)
    server = await _sim(clock, unary_limit_per_minute=6)
    run = await _running(server, clock, history_candles=20)
    try:
        series = _series(run)
        assert series is not None and series.oldest is not None
        series.anchor = oldest = series.oldest.time
        await _use_up_the_unary_limit(server, run.uid(KEY.id))
        window_end = (clock.now() // 60 + 1) * 60
        with structlog.testing.capture_logs() as logs:
            await _page(run.feed)
        waits = [e["wait"] for e in logs if e["event"] == "history_rate_limited"]
        assert waits  # the page met 80002 ...
        # ... waited for x-ratelimit-reset (what is left of the sim minute) instead of retrying at
        # once, and resumed in the next window.
        assert all(1 <= wait <= 60 for wait in waits) and len(waits) <= 2
        assert clock.now() >= window_end
        assert series.oldest.time == oldest - DAY
        assert _contiguous(series) and closed_mismatch(run, server, KEY.id) is None
    finally:
        await run.stop()
        await server.stop()


async def test_a_small_capacity_trims_the_newer_side_while_looking_back_and_refills_it_after(
    sim: Any, clock: ScaledClock
) -> None:
    capacity = 1_500
    run = await _running(sim, clock, history_candles=20, max_candles=capacity)
    try:
        feed, series = run.feed, _series(run)
        assert series is not None and series.capacity == capacity and series.oldest is not None
        series.anchor = series.oldest.time
        await _page(feed)
        series.anchor = series.oldest.time
        await _page(feed)
        assert len(series) <= capacity + capacity // 8
        assert series.get(series.anchor) is not None  # what the user looks at stays
        assert series.trimmed  # the newer side went: a hole, not a gap of the market
        # (A one-period gap may be open meanwhile: the backfill refetching a just-closed period for
        # its correction. The trimmed span must never be one.)
        assert not any(lo < t_hi and t_lo < hi for lo, hi in series.gaps for t_lo, t_hi in series.trimmed)
        assert not feed.view(KEY).history.error
        # Back at the live edge: the hole is fetched again, the oldest go instead.
        series.anchor = None

        def refilled() -> bool:
            feed.view(KEY)  # a panel asks on every redraw: that queues the refetch
            return not series.trimmed

        await wait_for(refilled, 30, "trimmed span fetched again")
        await wait_for(lambda: closed_mismatch(run, sim, KEY.id) is None, 10, "book equal to the sim")
        assert _contiguous(series)
    finally:
        await run.stop()


# ---------------------------------------------------------------------------- without a first date


class ScriptedHistory:
    """GetCandles over a fixed history (candles at `times`), recording each request."""

    def __init__(self, times: list[int], fail: bool = False) -> None:
        self.times = times
        self.calls: list[tuple[int, int]] = []
        self.fail = fail

    async def fetch(self, uid: str, interval: Interval, start: int, end: int) -> list[Candle]:
        import grpc

        self.calls.append((start, end))
        if self.fail:
            raise HistoryError(grpc.StatusCode.INTERNAL, "70001", "internal error")
        return [
            Candle(t, 1.0, 1.0, 1.0, 1.0, 1, True, Origin.BACKFILL) for t in self.times if start <= t < end
        ]


async def _scroll_once(history: ScriptedHistory, book: CandleBook, key: SeriesKey) -> ScrollBack:
    scroll = ScrollBack(book=book, on_candle=lambda *_: None, on_change=lambda: None)
    worker = asyncio.create_task(scroll.run(cast(HistoryClient, history)))
    instrument = replace(DEMO_INSTRUMENTS[0], uid=key.uid)
    scroll.load_older(instrument, key.interval)
    await wait_for(lambda: not scroll.state(instrument, key.interval).loading, what="page")
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    return scroll


async def test_without_a_first_date_empty_windows_reaching_back_far_enough_mean_the_start() -> None:
    key = SeriesKey(DEMO_INSTRUMENTS[0].uid, Interval.M1)
    now = 1_800_000_000 - 1_800_000_000 % DAY
    book = CandleBook()
    book.upsert(key, Candle(now, 1.0, 1.0, 1.0, 1.0, 1, True))
    # Ten days with no candle (a long holiday), then history again, then nothing at all.
    history = ScriptedHistory([now - 11 * DAY, now - 11 * DAY + 60])
    instrument = DEMO_INSTRUMENTS[0]
    scroll = await _scroll_once(history, book, key)
    series = book.find(key)
    assert series is not None and [c.time for c in series] == [now - 11 * DAY, now - 11 * DAY + 60, now]
    assert len(history.calls) == 11  # the holiday's empty days were skipped within the one page
    assert not scroll.state(instrument, key.interval).at_start
    calls = len(history.calls)
    scroll = await _scroll_once(history, book, key)
    assert len(history.calls) - calls == START_SILENCE_S // DAY  # a day per window, then it gives up
    assert scroll.state(instrument, key.interval).at_start
    assert series.oldest == Candle(now - 11 * DAY, 1, 1, 1, 1, 1, True, Origin.BACKFILL)


async def test_a_failed_page_says_why_and_may_be_asked_again() -> None:
    key = SeriesKey(DEMO_INSTRUMENTS[0].uid, Interval.M1)
    book = CandleBook()
    book.upsert(key, Candle(1_800_000_000, 1.0, 1.0, 1.0, 1.0, 1, True))
    scroll = await _scroll_once(ScriptedHistory([], fail=True), book, key)
    state = scroll.state(DEMO_INSTRUMENTS[0], key.interval)
    assert state.error == "older candles unavailable: internal error"
    assert not state.loading and not state.at_start
    scroll.load_older(DEMO_INSTRUMENTS[0], key.interval)
    state = scroll.state(DEMO_INSTRUMENTS[0], key.interval)
    assert state.loading and state.error is None


# ---------------------------------------------------------------------------- FakeFeed


def test_the_fake_feed_pages_through_the_history_a_test_gives_it() -> None:
    feed = FakeFeed(clock=ManualClock(1_800_000_000))
    feed.watch([KEY])
    start = 1_800_000_000 - 1_800_000_000 % 60 - 1_200 * 60
    history = wave_candles(start, Interval.M1, 1_200, 100.0, forming=False)
    feed.set_history(KEY.id, KEY.interval, history[:1_000])
    feed.push_candles(KEY.id, KEY.interval, history[1_000:])
    feed.page_size = 400
    heard: list[int] = []
    feed.add_candle_listener(lambda _key, candle: heard.append(candle.time))
    feed.load_older(KEY)
    view = feed.view(KEY)
    assert view.series is not None and len(view.series) == 600 and not view.history.at_start
    assert heard == [c.time for c in history[600:1_000]]
    feed.hold_pages = True
    feed.load_older(KEY)
    assert feed.view(KEY).history.loading
    feed.load_older(KEY)  # a page is in flight: no second one
    assert feed.older_requests == [KEY, KEY]
    feed.serve_older(KEY)
    feed.load_older(KEY)
    feed.serve_older(KEY)
    assert list(view.series) == history and feed.view(KEY).history.at_start
    feed.load_older(KEY)
    assert feed.older_requests == [KEY, KEY, KEY]  # at the start: no request


def test_the_fake_feed_fails_a_page_with_the_reason_a_test_gives() -> None:
    feed = FakeFeed(clock=ManualClock(1_800_000_000))
    feed.watch([KEY])
    feed.push_candles(KEY.id, KEY.interval, wave_candles(1_799_990_000 // 60 * 60, Interval.M1, 10, 100.0))
    feed.hold_pages = True
    feed.load_older(KEY)
    feed.serve_older(KEY, error="older candles unavailable: internal error")
    history = feed.view(KEY).history
    assert history.error == "older candles unavailable: internal error"
    assert not history.loading and not history.at_start


def test_max_candles_goes_from_the_settings_to_every_series_of_the_feed() -> None:
    from pydantic import ValidationError

    from monitor.feed.config import FeedConfig
    from monitor.settings import FeedSettings, Settings

    config = FeedConfig.from_settings(Settings(feed=FeedSettings(max_candles=2_000)), token="t")
    assert config.max_candles == 2_000
    feed = Feed(config=replace(config, endpoint="127.0.0.1:1", plaintext=True))
    assert feed.book.series(SeriesKey("uid", Interval.M1)).capacity == 2_000
    assert FeedConfig().max_candles == FeedSettings().max_candles == 50_000
    for bad in (999, 1_000_001):
        with pytest.raises(ValidationError):
            FeedSettings(max_candles=bad)

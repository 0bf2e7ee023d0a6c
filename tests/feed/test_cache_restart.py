"""Against the simulator: a warm restart draws the cache first and then makes one GetCandles call per
series; after a run with an outage every settled candle in the cache equals the simulator's history."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from monitor.feed.supervisor import Feed
from monitor.feed.testing import MemoryCache
from monitor.market import Interval, Origin, SeriesKey
from monitor.pb import marketdata_pb2
from tests.feed.feedkit import WATCH, Running, book_matches, feed_config, sim_config, wait_for

HISTORY = 20
INSTRUMENT_CALLS = ("GetInstrumentBy", "ShareBy", "Shares", "Etfs", "Bonds", "Futures", "Currencies")
Spy = Callable[[marketdata_pb2.GetCandlesRequest], None]


@pytest.fixture
async def spied_sim(clock: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[Any, list[Spy]]]:
    """A simulator whose GetCandles first calls every spy in the list with the request (at the
    moment the server receives it, so a spy can look at the feed's book then)."""
    from monitor.sim import SimServer
    from monitor.sim.unary import MarketDataService

    spies: list[Spy] = []
    served = MarketDataService.GetCandles

    async def get_candles(self: Any, request: marketdata_pb2.GetCandlesRequest, context: Any) -> Any:
        for spy in spies:
            spy(request)
        return await served(self, request, context)

    monkeypatch.setattr(MarketDataService, "GetCandles", get_candles)
    async with SimServer(sim_config(), clock=clock) as server:
        yield server, spies


def keys_of(run: Running) -> list[SeriesKey]:
    return [SeriesKey(run.uid(wk.id), wk.interval) for wk in WATCH]


def loaded(run: Running) -> bool:
    """Every watched series resolved and its history in."""
    if any(run.feed.instrument(wk.id) is None for wk in WATCH):
        return False
    return all(
        (series := run.feed.book.find(key)) is not None and series.history_loaded for key in keys_of(run)
    )


async def run_until(sim: Any, clock: Any, cache: MemoryCache, done: Callable[[Running], bool]) -> Running:
    run = Running(Feed(config=feed_config(sim, history_candles=HISTORY), clock=clock, cache=cache))
    run.feed.watch(WATCH)
    try:
        await run.live()
        await wait_for(lambda: done(run), 15, "the run's goal")
    finally:
        await run.stop()
    return run


async def test_a_warm_restart_draws_the_cache_first_then_makes_one_call_per_series(
    spied_sim: tuple[Any, list[Spy]], clock: Any
) -> None:
    sim, spies = spied_sim
    cache = MemoryCache()

    def streamed_closes(run: Running) -> bool:
        # The stream closed a few periods past the initial history: those are saved too.
        return loaded(run) and all(len(cache.candles.get(key, {})) >= HISTORY + 3 for key in keys_of(run))

    first = await run_until(sim, clock, cache, streamed_closes)
    stopped = clock.now()
    await wait_for(lambda: clock.now() >= stopped + 180, 5, "a three-minute break")

    instrument_calls = {name: sim.stats.calls[name] for name in INSTRUMENT_CALLS}
    second = Running(Feed(config=feed_config(sim, history_candles=HISTORY), clock=clock, cache=cache))
    keys = keys_of(first)
    # Per series, the M1 calls made before its history was in, and the history the book held at each.
    before_loaded: dict[SeriesKey, list[int]] = {key: [] for key in keys}

    def watch_calls(request: marketdata_pb2.GetCandlesRequest) -> None:
        key = SeriesKey(request.instrument_id, Interval(request.interval))
        series = second.feed.book.find(key)
        if key in before_loaded and (series is None or not series.history_loaded):
            drawn = [c for c in series or () if c.closed and c.origin is Origin.BACKFILL]
            before_loaded[key].append(len(drawn))

    spies.append(watch_calls)
    second.feed.watch(WATCH)
    try:
        await wait_for(lambda: loaded(second), 15, "the catch-up")
        assert {key: len(held) for key, held in before_loaded.items()} == dict.fromkeys(keys, 1)
        assert all(held == [HISTORY] for held in before_loaded.values())  # drawn before the call
        assert {name: sim.stats.calls[name] for name in INSTRUMENT_CALLS} == instrument_calls
        for wk in WATCH:
            await book_matches(second, sim, wk.id)
    finally:
        await second.stop()


async def test_every_settled_candle_in_the_cache_equals_the_history_after_an_outage(
    sim: Any, clock: Any
) -> None:
    cache = MemoryCache()
    run = Running(Feed(config=feed_config(sim, history_candles=HISTORY), clock=clock, cache=cache))
    run.feed.watch(WATCH)
    try:
        await run.live()
        await wait_for(lambda: loaded(run), 15, "the history")
        await sim.faults.refuse_connections(150.0)  # two and a half minutes without the server
        await sim.faults.wait_restored()
        await run.live()
        for wk in WATCH:
            await book_matches(run, sim, wk.id)

        back = clock.now()

        def past_the_outage() -> bool:
            return all(max(cache.candles[key]) >= back + 240 for key in keys_of(run))

        await wait_for(past_the_outage, 10, "candles saved well past the outage")
    finally:
        await run.stop()
    # A period that closed in the last two minutes may still be waiting for its correction.
    settled = Interval.M1.start_of(int(clock.now()) - 120)
    for key in keys_of(run):
        held = {t: c for t, c in cache.candles[key].items() if t < settled}
        truth = {c.time: c for c in sim.history(key.uid, key.interval, min(held), settled)}
        assert set(held) == set(truth)  # no gap: the outage was filled and saved
        for t, want in truth.items():
            got = held[t]
            assert (got.open, got.high, got.low, got.close, got.volume) == pytest.approx(
                (want.open, want.high, want.low, want.close, want.volume)
            ), t
        for lo, hi in cache.complete_ranges(key):  # complete means complete
            assert set(t for t in held if lo <= t < hi) >= {t for t in truth if lo <= t < hi}


async def test_a_scrolled_back_page_is_saved_to_the_cache(sim: Any, clock: Any) -> None:
    cache = MemoryCache()
    run = Running(Feed(config=feed_config(sim, history_candles=HISTORY), clock=clock, cache=cache))
    run.feed.watch(WATCH[:1])
    try:
        await run.live()
        await wait_for(lambda: run.feed.instrument(WATCH[0].id) is not None, 10, "the instrument")
        key = SeriesKey(run.uid(WATCH[0].id), WATCH[0].interval)
        await wait_for(lambda: run.feed.book.series(key).history_loaded, 10, "the history")
        oldest = min(cache.candles[key])
        run.feed.load_older(WATCH[0])
        await wait_for(lambda: min(cache.candles[key]) < oldest, 10, "the older page saved")
    finally:
        await run.stop()
    older = {t: c for t, c in cache.candles[key].items() if t < oldest}
    truth = {c.time: c for c in sim.history(key.uid, key.interval, min(older), oldest)}
    assert set(older) == set(truth)

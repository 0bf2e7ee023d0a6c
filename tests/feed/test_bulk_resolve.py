"""A large watchlist resolves by the bulk listings (no 80002) when cold, from the cache when warm."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from monitor.feed.instruments import InstrumentResolver, resolve_round
from monitor.feed.listing import BULK_MIN_IDS, listing_order
from monitor.feed.supervisor import Feed
from monitor.feed.testing import ManualClock, MemoryCache
from monitor.market import Instrument, Interval, WatchKey
from tests.feed.feedkit import Running, feed_config, wait_for

LOOKUPS = ("GetInstrumentBy", "ShareBy")
LISTINGS = ("Shares", "Etfs", "Bonds", "Futures", "Currencies")
INSTRUMENT_CALLS = (*LOOKUPS, *LISTINGS, "FindInstrument")


def watch_ids(sim: Any, count: int) -> dict[str, Instrument]:
    """`count` ids over the whole catalogue (every kind, some not API-tradable), each as the
    watchlist may name it: TICKER_CLASSCODE mostly, some by uid and by FIGI."""
    chosen = sim.catalogue[::3][:count]
    ids: dict[str, Instrument] = {}
    for n, item in enumerate(chosen):
        watch_id = item.uid if n % 10 == 3 else item.figi if n % 10 == 7 else item.symbol
        ids[watch_id] = item
    return ids


def instrument_calls(sim: Any) -> dict[str, int]:
    return {name: sim.stats.calls[name] for name in INSTRUMENT_CALLS if sim.stats.calls[name]}


def refused(sim: Any) -> int:
    return sum(sim.stats.rate_limited[name] for name in INSTRUMENT_CALLS)


@pytest.fixture
async def channel(sim: Any) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(sim.address) as opened:
        yield opened


def resolver(channel: grpc.aio.Channel, cache: MemoryCache | None = None) -> InstrumentResolver:
    return InstrumentResolver(channel, (("authorization", "Bearer sim-token"),), cache=cache, max_age_s=3600)


def same(got: Instrument, want: Instrument) -> bool:
    fields = ("uid", "figi", "ticker", "class_code", "lot", "price_step", "kind")
    return all(getattr(got, name) == getattr(want, name) for name in fields)


async def test_a_300_instrument_watchlist_resolves_without_80002_cold_and_from_the_cache_warm(
    sim: Any, clock: Any
) -> None:
    ids = watch_ids(sim, 300)
    untradable = sum(1 for item in sim.state.catalogue.items[::3][:300] if not item.api_tradable)
    assert untradable > 0  # the per-id fallback is part of the test
    assert len(ids) > sim.config.instruments_limit_per_minute  # one look-up each would meet 80002
    cache = MemoryCache()
    keys = [WatchKey(watch_id, Interval.M1) for watch_id in ids]

    async def resolve_all() -> Feed:
        feed = Feed(config=feed_config(sim, history_candles=1), clock=clock, cache=cache)
        feed.watch(keys)
        run = Running(feed)
        try:
            await wait_for(lambda: all(feed.instrument(w) is not None for w in ids), 20, "300 instruments")
        finally:
            await run.stop()
        return feed

    cold = await resolve_all()
    assert all(same(cold.instrument(w), want) for w, want in ids.items())  # type: ignore[arg-type]
    for watch_id in ids:  # where each history starts, as the listings and the look-ups say
        got, item = cold.instrument(watch_id), sim.state.catalogue.resolve(watch_id)
        assert got is not None and (got.first_1min, got.first_1day) == (item.first_1min, item.first_1day)
    cold_calls = instrument_calls(sim)
    assert refused(sim) == 0
    # Every kind's listing once, and one look-up per instrument no listing holds (not API-tradable).
    assert {name: cold_calls.get(name, 0) for name in LISTINGS} == dict.fromkeys(LISTINGS, 1)
    assert cold_calls["GetInstrumentBy"] == untradable
    assert len(cache.instruments) == 300

    warm = await resolve_all()
    assert instrument_calls(sim) == cold_calls  # not one call more
    assert all(same(warm.instrument(w), want) for w, want in ids.items())  # type: ignore[arg-type]


async def test_a_few_ids_are_looked_up_one_by_one(sim: Any, channel: grpc.aio.Channel) -> None:
    ids = list(watch_ids(sim, BULK_MIN_IDS))
    resolved: dict[str, Instrument] = {}
    result = await resolve_round(resolver(channel), ids, resolved)
    assert list(resolved) == ids and not result.failed and not result.transient
    assert instrument_calls(sim) == {"GetInstrumentBy": BULK_MIN_IDS}


async def test_ids_no_listing_holds_fail_or_resolve_one_by_one(sim: Any, channel: grpc.aio.Channel) -> None:
    tradable = [item.instrument for item in sim.state.catalogue.items if item.api_tradable]
    shares = [item.symbol for item in tradable if item.kind == "share"][:10]
    ids = [*shares, "NOPE_TQBR", "not an id"]
    resolved: dict[str, Instrument] = {}
    result = await resolve_round(resolver(channel), ids, resolved)
    assert list(resolved) == shares
    assert result.failed == {
        "NOPE_TQBR": "instrument not found",
        "not an id": "not a FIGI, uid or TICKER_CLASSCODE",
    }
    # All shares named by board: one Shares call; the two the listing lacks are asked for alone.
    assert instrument_calls(sim) == {"Shares": 1, "GetInstrumentBy": 1}


async def test_a_stale_cached_instrument_is_looked_up_again(sim: Any, channel: grpc.aio.Channel) -> None:
    clock = ManualClock()
    cache = MemoryCache(now=clock.now)
    first = await resolver(channel, cache).resolve("SBER_TQBR")
    assert await resolver(channel, cache).resolve("SBER_TQBR") == first
    assert instrument_calls(sim) == {"GetInstrumentBy": 1}  # the second session took the cache's
    clock.advance(3600)
    assert await resolver(channel, cache).resolve("SBER_TQBR") == first
    assert instrument_calls(sim) == {"GetInstrumentBy": 2}


def test_the_listings_are_ordered_by_the_boards_the_ids_name() -> None:
    ids = ["A_TQTF", "B_TQTF", "C_TQTF", "D_TQBR", "E_TQBR", "F_SPBFUT"]
    assert [listing.kind for listing in listing_order(ids, set())] == ["etf", "share"]
    # A uid could be in any listing: each may hold it together with the named ones.
    anywhere = [*ids, "e6123145-9665-43e0-8413-cd61b8aa9b13"]
    order = [listing.kind for listing in listing_order(anywhere, {"etf"})]
    assert order == ["share", "futures"]  # bonds and currencies would hold the uid at best


async def test_the_simulator_counts_calls_and_refusals_per_method() -> None:
    from dataclasses import replace

    from monitor.sim import SimServer
    from tests.feed.feedkit import sim_config

    # Time stands still: the three calls fall in one minute window, whatever the machine's pace.
    still = ManualClock()
    async with SimServer(replace(sim_config(), instruments_limit_per_minute=2), clock=still) as sim:
        async with grpc.aio.insecure_channel(sim.address) as opened:
            resolved: dict[str, Instrument] = {}
            result = await resolve_round(resolver(opened), ["SBER_TQBR", "GAZP_TQBR", "LKOH_TQBR"], resolved)
        assert result.wait is not None and len(resolved) == 2
        assert sim.stats.calls["GetInstrumentBy"] == 3 and sim.stats.rate_limited == {"GetInstrumentBy": 1}

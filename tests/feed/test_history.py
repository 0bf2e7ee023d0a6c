"""HistoryClient and the GetCandles chunk planner: pure plans, a scripted server, then the simulator."""

from __future__ import annotations

import asyncio
import calendar
import itertools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest
from grpc import aio

from monitor.clock import Clock
from monitor.feed.codes import api_code
from monitor.feed.history import (
    LIMIT_CAP,
    WINDOW_SECONDS,
    HistoryClient,
    HistoryError,
    _TokenBucket,
    plan_chunks,
)
from monitor.feed.testing import ManualClock
from monitor.market import Candle, Interval, Origin
from monitor.pb import marketdata_pb2
from monitor.sim import SimConfig, SimServer
from monitor.wire import seconds_to_timestamp, to_quotation

DAY = 86_400
SERVICE = "tinkoff.public.invest.api.contract.v1.MarketDataService"
T0 = calendar.timegm((2026, 11, 2, 0, 0, 0))  # a Monday


def utc(year: int, month: int, day: int = 1) -> int:
    return calendar.timegm((year, month, day, 0, 0, 0))


# --- the planner -------------------------------------------------------------------------------


def assert_valid_plan(interval: Interval, start: int, end: int, chunks: list[tuple[int, int]]) -> None:
    """Chunks tile [first period, end) in order, each within the window and the limit cap."""
    periods = interval.periods(start, end)
    if not periods:
        assert chunks == []
        return
    assert chunks[0][0] == periods[0]
    assert chunks[-1][1] == end
    for (_, a_end), (b_start, _) in itertools.pairwise(chunks):
        assert a_end == b_start
    covered = []
    for chunk_start, chunk_end in chunks:
        assert chunk_start < chunk_end
        assert chunk_end - chunk_start <= WINDOW_SECONDS[interval]
        inside = interval.periods(chunk_start, chunk_end)
        assert 1 <= len(inside) <= LIMIT_CAP[interval]
        assert inside[0] == chunk_start  # chunks start on a period
        covered.extend(inside)
    assert covered == periods  # every period in exactly one chunk


def test_plan_one_day_of_minutes_is_one_chunk() -> None:
    assert plan_chunks(Interval.M1, T0, T0 + DAY) == [(T0, T0 + DAY)]


def test_plan_exact_window_multiples_split_on_the_window() -> None:
    assert plan_chunks(Interval.M1, T0, T0 + 3 * DAY) == [
        (T0, T0 + DAY),
        (T0 + DAY, T0 + 2 * DAY),
        (T0 + 2 * DAY, T0 + 3 * DAY),
    ]
    assert plan_chunks(Interval.M5, T0, T0 + 14 * DAY) == [(T0, T0 + 7 * DAY), (T0 + 7 * DAY, T0 + 14 * DAY)]


def test_plan_one_second_past_the_window_adds_a_chunk() -> None:
    assert plan_chunks(Interval.M1, T0, T0 + DAY + 1) == [(T0, T0 + DAY), (T0 + DAY, T0 + DAY + 1)]


def test_plan_unaligned_bounds() -> None:
    # Start mid-minute: the first candle inside is the next minute; end mid-minute keeps that minute.
    chunks = plan_chunks(Interval.M1, T0 + 30, T0 + 2 * DAY + 90)
    assert chunks == [
        (T0 + 60, T0 + DAY + 60),
        (T0 + DAY + 60, T0 + 2 * DAY + 60),
        (T0 + 2 * DAY + 60, T0 + 2 * DAY + 90),
    ]
    assert_valid_plan(Interval.M1, T0 + 30, T0 + 2 * DAY + 90, chunks)


def test_plan_empty_ranges() -> None:
    assert plan_chunks(Interval.M1, T0, T0) == []
    assert plan_chunks(Interval.M1, T0 + 10, T0 + 50) == []  # no candle starts inside
    assert plan_chunks(Interval.M1, T0 + 60, T0) == []


@pytest.mark.parametrize("interval", list(Interval))
def test_plan_is_valid_for_every_interval(interval: Interval) -> None:
    # Unaligned bounds over two and a half windows: chunks tile the range, each under the window
    # and the limit cap (which never binds before the window with the contract's numbers).
    start = utc(2015, 3, 7) + 123
    end = start + WINDOW_SECONDS[interval] * 5 // 2
    chunks = plan_chunks(interval, start, end)
    assert len(chunks) == 3
    assert_valid_plan(interval, start, end, chunks)


@pytest.mark.parametrize(
    ("interval", "window_days"),
    [
        (Interval.M1, 1),
        (Interval.M2, 1),
        (Interval.M3, 1),
        (Interval.M5, 7),
        (Interval.M10, 7),
        (Interval.M15, 21),
        (Interval.M30, 21),
        (Interval.H1, 89),
        (Interval.H2, 89),
        (Interval.H4, 89),
        (Interval.D1, 6 * 365),
        (Interval.W1, 5 * 365),
    ],
)
def test_plan_full_windows_per_interval(interval: Interval, window_days: int) -> None:
    start = interval.start_of(T0)
    if start < T0:
        start = interval.next_start(start)
    chunks = plan_chunks(interval, start, start + 3 * window_days * DAY)
    assert chunks[0] == (start, start + window_days * DAY - (window_days * DAY) % interval.seconds)
    assert_valid_plan(interval, start, start + 3 * window_days * DAY, chunks)


def test_plan_months_follow_the_calendar() -> None:
    start, end = utc(1996, 2, 15), utc(2026, 11, 25)
    chunks = plan_chunks(Interval.MN1, start, end)
    assert chunks[0][0] == utc(1996, 3)
    # 120 months are a little over 10 x 365 days, so a chunk holds 119 months.
    assert chunks[0][1] == utc(2006, 2)
    assert chunks[-1][1] == end
    assert_valid_plan(Interval.MN1, start, end, chunks)


def test_plan_weeks_start_on_monday() -> None:
    chunks = plan_chunks(Interval.W1, T0 + 3 * DAY, T0 + 30 * DAY)
    assert chunks == [(T0 + 7 * DAY, T0 + 30 * DAY)]


# --- the token bucket --------------------------------------------------------------------------


async def test_token_bucket_bursts_then_paces_on_the_clock() -> None:
    clock = ManualClock(start=T0)
    bucket = _TokenBucket(clock, rate=1.0, capacity=3)
    for _ in range(3):
        await asyncio.wait_for(bucket.acquire(), 1)
    waiter = asyncio.create_task(bucket.acquire())
    await _until(lambda: clock.sleepers == 1)
    assert not waiter.done()
    clock.advance(1.0)
    await asyncio.wait_for(waiter, 1)


async def test_token_bucket_block_until_holds_everyone() -> None:
    clock = ManualClock(start=T0)
    bucket = _TokenBucket(clock, rate=100.0, capacity=10)
    bucket.block_until(T0 + 30)
    waiter = asyncio.create_task(bucket.acquire())
    await _until(lambda: clock.sleepers == 1)
    clock.advance(29)
    await asyncio.sleep(0)
    assert not waiter.done()
    clock.advance(1)
    await asyncio.wait_for(waiter, 1)


def test_api_code_from_details() -> None:
    assert api_code("80002") == "80002"
    assert api_code("RESOURCE_EXHAUSTED: 80002") == "80002"
    assert api_code("Stream removed") is None
    assert api_code(None) is None


# --- a scripted GetCandles server --------------------------------------------------------------


@dataclass
class Scripted:
    """Answers GetCandles with one candle per period (forming at and after `now`), errors first."""

    now: int
    first: int = 0
    """No candles before this time (the instrument's history begins)."""
    errors: list[tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]] = field(default_factory=list)
    requests: list[marketdata_pb2.GetCandlesRequest] = field(default_factory=list)

    async def GetCandles(
        self, request: marketdata_pb2.GetCandlesRequest, context: aio.ServicerContext[Any, Any]
    ) -> marketdata_pb2.GetCandlesResponse:
        self.requests.append(request)
        if self.errors:
            status, details, trailers = self.errors.pop(0)
            context.set_trailing_metadata(trailers)
            await context.abort(status, details)
        interval = Interval(request.interval)
        start, end = getattr(request, "from").seconds, request.to.seconds
        assert end - start <= WINDOW_SECONDS[interval], "window exceeded (30014)"
        periods = interval.periods(start, end)
        assert len(periods) <= request.limit
        forming = interval.start_of(self.now)
        candles = [
            marketdata_pb2.HistoricCandle(
                open=to_quotation(100 + i),
                high=to_quotation(101 + i),
                low=to_quotation(99 + i),
                close=to_quotation("100.5"),
                volume=t % 1000,
                time=seconds_to_timestamp(t),
                is_complete=t < forming,
            )
            for i, t in enumerate(periods)
            if self.first <= t <= forming
        ]
        return marketdata_pb2.GetCandlesResponse(candles=candles)


@pytest.fixture
async def scripted() -> AsyncIterator[tuple[Scripted, aio.Channel]]:
    servicer = Scripted(now=T0 + 3 * DAY + 30 * 60 + 20)
    server = aio.server()
    handler = grpc.unary_unary_rpc_method_handler(
        servicer.GetCandles,
        request_deserializer=marketdata_pb2.GetCandlesRequest.FromString,
        response_serializer=marketdata_pb2.GetCandlesResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"GetCandles": handler}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = aio.insecure_channel(f"127.0.0.1:{port}")
    yield servicer, channel
    await channel.close()
    await server.stop(None)


class FastClock:
    """Starts at `start` and runs 1000x faster than wall time (ScaledClock always starts at wall time)."""

    def __init__(self, start: float, speed: float = 1000.0) -> None:
        self._start, self._speed, self._wall = start, speed, time.monotonic()

    def now(self) -> float:
        return self._start + (time.monotonic() - self._wall) * self._speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self._speed)


def fast_client(channel: aio.Channel, now: int, **kwargs: Any) -> HistoryClient:
    clock = FastClock(now)
    return HistoryClient(channel, (("authorization", "Bearer t"),), clock=clock, **kwargs)


async def test_fetch_chunks_and_leaves_out_the_forming_candle(scripted: tuple[Scripted, aio.Channel]) -> None:
    servicer, channel = scripted
    client = fast_client(channel, servicer.now)
    candles = await client.fetch("uid-1", Interval.M1, T0 + DAY - 90, servicer.now + 3600)
    assert [c.time for c in candles] == list(range(T0 + DAY - 60, T0 + 3 * DAY + 30 * 60, 60))
    assert all(c.closed and c.origin is Origin.BACKFILL for c in candles)
    assert candles[1].open == 101.0 and candles[1].close == 100.5
    assert len(servicer.requests) == 3  # [T0+1d-60, +1d), [.., +1d), the tail up to the end
    assert all(r.instrument_id == "uid-1" and r.limit == 2400 for r in servicer.requests)
    first = servicer.requests[0]
    assert (getattr(first, "from").seconds, first.to.seconds) == (T0 + DAY - 60, T0 + 2 * DAY - 60)


async def test_fetch_waits_out_rate_limit_from_trailers(scripted: tuple[Scripted, aio.Channel]) -> None:
    servicer, channel = scripted
    exhausted = (grpc.StatusCode.RESOURCE_EXHAUSTED, "80002", (("x-ratelimit-reset", "7"),))
    servicer.errors = [exhausted, exhausted]
    client = fast_client(channel, servicer.now)
    before = client._clock.now()
    candles = await client.fetch("uid-1", Interval.H1, T0, T0 + DAY)
    assert len(candles) == 24
    assert client._clock.now() - before >= 14  # two waits of x-ratelimit-reset seconds
    assert len(servicer.requests) == 3


async def test_fetch_retries_transient_errors(scripted: tuple[Scripted, aio.Channel]) -> None:
    servicer, channel = scripted
    servicer.errors = [(grpc.StatusCode.UNAVAILABLE, "", ()), (grpc.StatusCode.INTERNAL, "70001", ())]
    client = fast_client(channel, servicer.now)
    assert len(await client.fetch("uid-1", Interval.M5, T0, T0 + 3600)) == 12
    assert len(servicer.requests) == 3


async def test_fetch_gives_up_after_transient_retries(scripted: tuple[Scripted, aio.Channel]) -> None:
    servicer, channel = scripted
    servicer.errors = [(grpc.StatusCode.INTERNAL, "70003", (("message", "try again later"),))] * 5
    client = fast_client(channel, servicer.now, transient_retries=2)
    with pytest.raises(HistoryError) as caught:
        await client.fetch("uid-1", Interval.M5, T0, T0 + 3600)
    assert caught.value.status is grpc.StatusCode.INTERNAL and caught.value.code == "70003"
    assert len(servicer.requests) == 3


async def test_fetch_raises_typed_error_with_api_code(scripted: tuple[Scripted, aio.Channel]) -> None:
    servicer, channel = scripted
    servicer.errors = [(grpc.StatusCode.NOT_FOUND, "50002", (("message", "Instrument not found"),))]
    client = fast_client(channel, servicer.now)
    with pytest.raises(HistoryError) as caught:
        await client.fetch("nope", Interval.M1, T0, T0 + 3600)
    assert caught.value.status is grpc.StatusCode.NOT_FOUND
    assert caught.value.code == "50002"
    assert caught.value.message == "Instrument not found"
    assert len(servicer.requests) == 1  # not retried


async def test_recent_walks_back_across_windows(scripted: tuple[Scripted, aio.Channel]) -> None:
    servicer, channel = scripted
    client = fast_client(channel, servicer.now)
    candles = await client.recent("uid-1", Interval.M1, 2000)
    forming = Interval.M1.start_of(servicer.now)
    assert [c.time for c in candles] == list(range(forming - 2000 * 60, forming, 60))
    assert len(servicer.requests) == 2


async def test_recent_stops_when_history_runs_out(scripted: tuple[Scripted, aio.Channel]) -> None:
    servicer, channel = scripted
    servicer.first = T0 - 10 * DAY  # history begins 10 days back: ask for more than exists
    client = fast_client(channel, servicer.now)
    candles = await client.recent("uid-1", Interval.H1, 5000, max_empty_chunks=2)
    assert [c.time for c in candles] == list(range(servicer.first, Interval.H1.start_of(servicer.now), 3600))
    assert len(servicer.requests) == 3  # one window with data, then two empty ones


async def _until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.001)


# --- against the simulator ---------------------------------------------------------------------

SIM_NOW = calendar.timegm((2026, 11, 25, 10, 0, 0)) + 37  # mid-minute: a forming candle exists


@asynccontextmanager
async def running_sim(clock: Clock, **config: Any) -> AsyncIterator[tuple[SimServer, aio.Channel]]:
    sim = SimServer(SimConfig(host="127.0.0.1", port=0, tokens=("sim-token",), seed=1, **config), clock=clock)
    await sim.start()
    channel = aio.insecure_channel(sim.address)
    try:
        yield sim, channel
    finally:
        await channel.close()
        await sim.stop()


def sim_client(channel: aio.Channel, clock: Clock, **kwargs: Any) -> HistoryClient:
    return HistoryClient(channel, (("authorization", "Bearer sim-token"),), clock=clock, **kwargs)


def values(candles: list[Candle]) -> list[tuple[int, float, float, float, float, int, bool]]:
    return [(c.time, c.open, c.high, c.low, c.close, c.volume, c.closed) for c in candles]


async def test_sim_fetch_over_several_chunks_matches_history() -> None:
    clock = ManualClock(start=SIM_NOW)
    async with running_sim(clock) as (sim, channel):
        client = sim_client(channel, clock)
        uid = sim.catalogue[0].uid
        start, end = SIM_NOW - 3 * DAY - 1234, SIM_NOW - 3600
        fetched = await client.fetch(uid, Interval.M1, start, end)
        # sim.history also returns the period that contains `start`; fetch keeps starts in [start, end).
        expected = [c for c in sim.history(uid, Interval.M1, start, end) if c.time >= start]
        assert len(expected) > 3 * 1400
        assert values(fetched) == values(expected)
        assert all(c.origin is Origin.BACKFILL for c in fetched)
        assert client.requests == len(plan_chunks(Interval.M1, start, end)) == 3


async def test_sim_outage_on_every_instrument_backfills_exactly() -> None:
    clock = ManualClock(start=SIM_NOW)
    async with running_sim(clock) as (sim, channel):
        client = sim_client(channel, clock)
        # The newest candle held before a 10-minute outage, on a 5-minute boundary so that both
        # intervals start on a period (the feed resumes from a held candle's own start).
        last_closed = Interval.M5.start_of(SIM_NOW) - 15 * 60
        series = [(i.uid, iv) for i in sim.catalogue for iv in (Interval.M1, Interval.M5)][:20]
        assert len(series) == 20
        got = await asyncio.gather(*(client.fetch(uid, iv, last_closed, SIM_NOW) for uid, iv in series))
        for (uid, iv), candles in zip(series, got, strict=True):
            assert values(candles) == values(sim.history(uid, iv, last_closed, SIM_NOW)), (uid, iv)
            assert all(c.time < iv.start_of(SIM_NOW) for c in candles)  # never the forming candle
        m1 = got[0]
        assert [c.time for c in m1] == list(range(last_closed, Interval.M1.start_of(SIM_NOW), 60))
        assert len(m1) >= 15


async def test_sim_forming_candle_is_never_returned() -> None:
    clock = ManualClock(start=SIM_NOW)
    async with running_sim(clock) as (sim, channel):
        client = sim_client(channel, clock)
        uid = sim.catalogue[0].uid
        for interval in (Interval.M1, Interval.M15, Interval.H1):
            forming = interval.start_of(SIM_NOW)
            fetched = await client.fetch(uid, interval, forming - 5 * interval.seconds, SIM_NOW + DAY)
            assert fetched and fetched[-1].time == interval.start_of(forming - 1)
            if interval is Interval.M1:  # a long interval's recent() reads a whole window of history
                recent = await client.recent(uid, interval, 3)
                assert [c.time for c in recent] == [c.time for c in fetched[-3:]]


async def test_sim_recent_matches_history() -> None:
    clock = ManualClock(start=SIM_NOW)
    async with running_sim(clock) as (sim, channel):
        client = sim_client(channel, clock)
        uid = sim.catalogue[1].uid
        recent = await client.recent(uid, Interval.M1, 2000)
        forming = Interval.M1.start_of(SIM_NOW)
        expected = sim.history(uid, Interval.M1, forming - 3 * DAY, forming)[-2000:]
        assert len(recent) == 2000
        assert values(recent) == values(expected)


async def test_sim_rate_limit_is_waited_out_without_errors() -> None:
    # 6 requests a sim minute against a client budget of 500: the client hits 80002 and must wait
    # x-ratelimit-reset each time. Time moves only while the client waits, so the count is exact.
    clock = ManualClock(start=SIM_NOW)
    async with running_sim(clock, unary_limit_per_minute=6) as (sim, channel):
        client = sim_client(channel, clock)
        uid = sim.catalogue[2].uid
        end = Interval.M1.start_of(SIM_NOW) - 3600
        start = end - 20 * DAY
        advancer = asyncio.create_task(advance_while_waiting(clock))
        try:
            fetched = await client.fetch(uid, Interval.M1, start, end)
        finally:
            advancer.cancel()
        assert values(fetched) == values(sim.history(uid, Interval.M1, start, end))
        # 20 chunks at 6 a minute: three windows run out, each costs one refused request.
        assert client.requests == 23
        assert clock.now() - SIM_NOW >= 3 * 60 - 60


async def advance_while_waiting(clock: ManualClock) -> None:
    """Moves time on in small steps whenever someone waits on the clock."""
    while True:
        await asyncio.sleep(0.001)
        while clock.sleepers:
            clock.advance(1.0)
            await asyncio.sleep(0)

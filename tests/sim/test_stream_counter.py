"""The open-stream limit (80001) counted like the real API's: a closed stream's place frees at the
counter's refresh, every 2 minutes of sim time, not at the close (tinvest-contract.md §4.5)."""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio
import pytest

from monitor.feed.testing import ManualClock
from monitor.sim import SimConfig, SimServer
from monitor.sim.limits import StreamCounter

from .helpers import Client, candles_request, kind, read_until

REFRESH = 120.0
T0 = 1_000 * REFRESH  # a refresh instant


def test_a_closed_stream_keeps_its_place_until_the_next_refresh() -> None:
    counter = StreamCounter(limit=2, refresh_seconds=REFRESH)
    assert counter.admit("t", T0 + 1) and counter.admit("t", T0 + 2)
    assert not counter.admit("t", T0 + 3)  # both places taken
    counter.release("t", T0 + 4)
    assert counter.counted("t", T0 + 5) == 2 and not counter.admit("t", T0 + 5)
    assert not counter.admit("t", T0 + REFRESH - 0.001)  # still before the refresh
    assert counter.counted("t", T0 + REFRESH) == 1  # the refresh forgets the closed one
    assert counter.admit("t", T0 + REFRESH)
    assert not counter.admit("t", T0 + REFRESH + 1)


def test_the_refresh_is_on_whole_periods_of_sim_time_not_per_stream() -> None:
    counter = StreamCounter(limit=1, refresh_seconds=REFRESH)
    assert counter.admit("t", T0 + REFRESH - 10)
    counter.release("t", T0 + REFRESH - 1)  # closed a second before a refresh: free a second later
    assert not counter.admit("t", T0 + REFRESH - 0.5)
    assert counter.admit("t", T0 + REFRESH + 0.5)
    counter.release("t", T0 + REFRESH + 1)  # closed just after one: held for almost two minutes
    assert not counter.admit("t", T0 + 2 * REFRESH - 1)
    assert counter.admit("t", T0 + 2 * REFRESH)


def test_churn_counts_refusals_do_not_and_tokens_count_apart() -> None:
    counter = StreamCounter(limit=3, refresh_seconds=REFRESH)
    for n in range(3):  # open and close one stream at a time: each still takes a place
        assert counter.admit("a", T0 + n)
        counter.release("a", T0 + n + 0.5)
    assert counter.counted("a", T0 + 10) == 3
    for n in range(5):
        assert not counter.admit("a", T0 + 10 + n)  # a refused stream takes no place
    assert counter.counted("a", T0 + 20) == 3
    assert counter.admit("b", T0 + 20) and counter.counted("b", T0 + 20) == 1  # the user's own limit
    assert counter.counted("a", T0 + REFRESH) == 0


def test_an_open_stream_stays_counted_across_refreshes() -> None:
    counter = StreamCounter(limit=1, refresh_seconds=REFRESH)
    assert counter.admit("t", T0)
    assert counter.counted("t", T0 + 10 * REFRESH) == 1 and not counter.admit("t", T0 + 10 * REFRESH)


def test_refresh_zero_frees_a_place_at_the_close() -> None:
    counter = StreamCounter(limit=1, refresh_seconds=0)
    for n in range(5):
        assert counter.admit("t", T0 + n)
        counter.release("t", T0 + n)
    assert counter.counted("t", T0 + 5) == 0


async def _open(client: Client) -> object:
    call = client.stream()
    await call.write(candles_request("SBER_TQBR"))
    await read_until(call, kind("subscribe_candles_response"))
    return call


async def _refused(client: Client) -> str | None:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await client.stream().read()
    assert error.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    return error.value.details()


async def _closed(sim: SimServer, call: object) -> None:
    """Cancels a stream and waits until the server has seen it go (a condition, not a time)."""
    before = len(sim.stats.sessions)
    call.cancel()  # type: ignore[attr-defined]
    async with asyncio.timeout(10):
        while len(sim.stats.sessions) >= before:
            await asyncio.sleep(0.01)


async def test_the_sim_refuses_a_stream_after_churn_until_the_refresh_on_the_sim_clock() -> None:
    clock = ManualClock(T0 + 10)
    config = SimConfig(max_streams_per_token=4)
    assert SimConfig().max_streams_per_token == 16 and config.stream_counter_refresh_seconds == REFRESH
    async with SimServer(config, clock=clock) as sim:
        client = Client(sim)
        held = await _open(client)
        for _ in range(3):  # reconnecting three times in one period: none open but the first
            await _closed(sim, await _open(client))
        assert len(sim.stats.sessions) == 1
        assert await _refused(client) == "80001"
        clock.advance(REFRESH - 11)  # a second before the refresh: still refused
        assert await _refused(client) == "80001"
        clock.advance(1)  # the refresh: the three closed places are free, the open one is not
        calls = [await _open(client) for _ in range(3)]
        assert await _refused(client) == "80001"
        for call in (held, *calls):
            call.cancel()  # type: ignore[attr-defined]
        await client.close()

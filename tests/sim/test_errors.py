"""Error metadata: every API error is trailers-only, so a client finds it in the headers-or-trailers
the official SDK reads (invest-python: initial metadata when there is any, else the trailers) and in
the trailers alike; one case per code family, unary and stream."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import grpc
import grpc.aio
import pytest

from monitor.feed.testing import ManualClock
from monitor.pb import instruments_pb2, marketdata_pb2
from monitor.sim import SimConfig, SimServer
from monitor.sim.errors import ERRORS

from .helpers import SBER_UID, START, Client, candles_request, kind, read_until

DAY = 86_400


def sdk_metadata(error: grpc.aio.AioRpcError) -> dict[str, str]:
    """What invest-python's get_metadata_from_aio_error reads: the headers if any, else the trailers."""
    return dict(error.initial_metadata() or error.trailing_metadata() or ())


def assert_api_error(error: grpc.aio.AioRpcError, code: str, *, unary: bool) -> None:
    status, message = ERRORS[code]
    assert error.code() == status and error.details() == code
    trailers = dict(error.trailing_metadata() or ())
    assert not error.initial_metadata(), "an error answer sends no headers before its trailers"
    for seen in (sdk_metadata(error), trailers):
        assert seen["message"] == message
        assert len(seen["x-tracking-id"]) == 32
        if unary and code != "40003":
            assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(seen)


async def unary_error(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def stream_error(call: Any, *requests: marketdata_pb2.MarketDataRequest) -> grpc.aio.AioRpcError:
    # The server may refuse the call before a write lands (a bad token is seen at once): the error
    # then comes from write(), which is as much the stream's error as one from read().
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async with asyncio.timeout(10):
            for request in requests:
                await call.write(request)
            while True:
                assert await call.read() is not grpc.aio.EOF, "stream ended without an error"
    return caught.value


async def test_unary_errors_of_every_family_are_trailers_only(manual_clock: ManualClock) -> None:
    async with SimServer(SimConfig(unary_limit_per_minute=2), clock=manual_clock) as sim:
        client, meta = Client(sim), Client(sim).metadata
        md, instruments = client.md, client.instruments
        window = marketdata_pb2.GetCandlesRequest(instrument_id=SBER_UID, interval=1)  # type: ignore[arg-type]
        getattr(window, "from").seconds, window.to.seconds = int(START) - 2 * DAY, int(START)
        assert_api_error(await unary_error(md.GetCandles(window, metadata=meta)), "30014", unary=True)
        wrong = Client(sim, token="wrong")
        error = await unary_error(
            wrong.md.GetLastPrices(marketdata_pb2.GetLastPricesRequest(), metadata=wrong.metadata)
        )
        assert_api_error(error, "40003", unary=True)
        lookup = instruments_pb2.InstrumentRequest(id_type=instruments_pb2.INSTRUMENT_ID_TYPE_UID, id="nope")
        assert_api_error(
            await unary_error(instruments.GetInstrumentBy(lookup, metadata=meta)), "50002", unary=True
        )
        prices = marketdata_pb2.GetLastPricesRequest(instrument_id=[SBER_UID])
        await md.GetLastPrices(prices, metadata=meta)  # the second MarketDataService call of the minute
        error = await unary_error(md.GetLastPrices(prices, metadata=meta))
        assert_api_error(error, "80002", unary=True)
        assert dict(error.trailing_metadata() or ())["x-ratelimit-remaining"] == "0"
        # A good answer still carries its headers first, as before.
        call = instruments.GetInstrumentBy(
            instruments_pb2.InstrumentRequest(id_type=instruments_pb2.INSTRUMENT_ID_TYPE_UID, id=SBER_UID),
            metadata=meta,
        )
        await call
        assert len(dict(await call.initial_metadata())["x-tracking-id"]) == 32
        await client.close()
        await wrong.close()


async def test_stream_errors_of_every_family_carry_message_and_tracking_id(
    manual_sim: SimServer, manual_clock: ManualClock, manual_client: Client
) -> None:
    wrong = Client(manual_sim, token="wrong")
    assert_api_error(await stream_error(wrong.stream(), candles_request(SBER_UID)), "40003", unary=False)
    await wrong.close()
    manual_sim.faults.refuse_streams()
    assert_api_error(
        await stream_error(manual_client.stream(), candles_request(SBER_UID)), "80001", unary=False
    )
    manual_sim.faults.clear()
    idle = manual_client.stream()
    await idle.write(candles_request(SBER_UID))
    await read_until(idle, kind("subscribe_candles_response"))
    await idle.write(candles_request(SBER_UID, action=2))  # unsubscribed: idle from here
    await read_until(idle, kind("subscribe_candles_response"))
    # The idle time counts from the sim's tick that finds the stream empty: wait for that tick, or
    # the clock would jump before it and the stream would count as idle from after the jump.
    (session,) = [s for s in manual_sim.stats.sessions.values() if s.subscription_count == 0]
    async with asyncio.timeout(10):
        while getattr(session, "idle_since", None) is None:
            await asyncio.sleep(0.005)
    manual_clock.advance(manual_sim.config.idle_stream_seconds + 1)
    error = await stream_error(idle)
    assert_api_error_after_messages(error, "80004")


def assert_api_error_after_messages(error: grpc.aio.AioRpcError, code: str) -> None:
    """A stream that had sent messages has sent (empty) headers already; the metadata is in the trailers."""
    status, message = ERRORS[code]
    assert error.code() == status and error.details() == code
    for seen in (sdk_metadata(error), dict(error.trailing_metadata() or ())):
        assert seen["message"] == message and len(seen["x-tracking-id"]) == 32

"""Request limits per service at the real figures: MarketDataService 600/min, InstrumentsService
200/min (each with its own x-ratelimit-* headers), subscription requests 100/min on each stream."""

from __future__ import annotations

import grpc
import pytest

from monitor.feed.testing import ManualClock
from monitor.pb import instruments_pb2, marketdata_pb2
from monitor.sim import SimServer

from .helpers import SBER_UID, Client, candles_request, kind, read_until

LOOKUP = instruments_pb2.InstrumentRequest(id_type=instruments_pb2.INSTRUMENT_ID_TYPE_UID, id=SBER_UID)
PRICES = marketdata_pb2.GetLastPricesRequest(instrument_id=[SBER_UID])


async def headers_of(call: object) -> dict[str, str]:
    await call  # type: ignore[misc]
    return dict(await call.initial_metadata())  # type: ignore[attr-defined]


async def test_each_service_has_its_own_minute_window(
    manual_sim: SimServer, manual_clock: ManualClock, manual_client: Client
) -> None:
    api, md, meta = manual_client.instruments, manual_client.md, manual_client.metadata
    manual_clock.advance(60 - manual_clock.now() % 60)  # a minute's start: all 200 fit in one window
    for used in range(1, 201):
        headers = await headers_of(api.GetInstrumentBy(LOOKUP, metadata=meta))
        assert headers["x-ratelimit-limit"] == "200, 200;w=60"
        assert headers["x-ratelimit-remaining"] == str(200 - used)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await api.FindInstrument(instruments_pb2.FindInstrumentRequest(query="sber"), metadata=meta)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and caught.value.details() == "80002"
    trailers = dict(caught.value.trailing_metadata() or ())
    assert trailers["x-ratelimit-remaining"] == "0" and trailers["x-ratelimit-reset"] == "60"
    # MarketDataService counts apart: its window is untouched by the 200 look-ups.
    headers = await headers_of(md.GetLastPrices(PRICES, metadata=meta))
    assert headers["x-ratelimit-limit"] == "600, 600;w=60" and headers["x-ratelimit-remaining"] == "599"
    manual_clock.advance(60)
    headers = await headers_of(api.GetInstrumentBy(LOOKUP, metadata=meta))
    assert headers["x-ratelimit-remaining"] == "199"


async def test_market_data_allows_600_a_minute(manual_clock: ManualClock, manual_client: Client) -> None:
    md, meta = manual_client.md, manual_client.metadata
    manual_clock.advance(60 - manual_clock.now() % 60)
    for _ in range(600):
        await md.GetLastPrices(PRICES, metadata=meta)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await md.GetTradingStatus(
            marketdata_pb2.GetTradingStatusRequest(instrument_id=SBER_UID), metadata=meta
        )
    assert caught.value.details() == "80002"


async def test_subscription_requests_are_limited_per_stream(
    manual_sim: SimServer, manual_client: Client
) -> None:
    assert manual_sim.config.subscription_requests_per_minute == 100
    first, second = manual_client.stream(), manual_client.stream()
    for _ in range(100):
        await first.write(candles_request(SBER_UID))
        response, _ = await read_until(first, kind("subscribe_candles_response"))
        entry = response.subscribe_candles_response.candles_subscriptions[0]
        assert entry.subscription_status == marketdata_pb2.SUBSCRIPTION_STATUS_SUCCESS
    await first.write(candles_request(SBER_UID))
    response, _ = await read_until(first, kind("subscribe_candles_response"))
    entry = response.subscribe_candles_response.candles_subscriptions[0]
    assert entry.subscription_status == marketdata_pb2.SUBSCRIPTION_STATUS_TOO_MANY_REQUESTS
    await second.write(candles_request(SBER_UID))  # the other stream's window is its own
    response, _ = await read_until(second, kind("subscribe_candles_response"))
    entry = response.subscribe_candles_response.candles_subscriptions[0]
    assert entry.subscription_status == marketdata_pb2.SUBSCRIPTION_STATUS_SUCCESS
    first.cancel()
    second.cancel()

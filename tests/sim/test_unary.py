"""Unary calls: candles, prices, statuses, instruments, auth and rate limits."""

from __future__ import annotations

import time

import grpc
import pytest

from monitor.feed.testing import ManualClock
from monitor.market import Interval
from monitor.pb import common_pb2, instruments_pb2, marketdata_pb2
from monitor.sim import SimConfig, SimServer
from monitor.wire import quotation_to_float

from .helpers import SBER_FIGI, SBER_UID, START, Client, candles_request, kind, read_until

DAY = 86_400
M1 = marketdata_pb2.CANDLE_INTERVAL_1_MIN


def _candles(**fields: object) -> marketdata_pb2.GetCandlesRequest:
    request = marketdata_pb2.GetCandlesRequest(instrument_id=SBER_UID, interval=M1)
    for name, value in fields.items():
        if name in ("from_", "to"):
            getattr(request, "from" if name == "from_" else "to").seconds = int(value)  # type: ignore[call-overload]
        else:
            setattr(request, name, value)
    return request


async def _error(call: object) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_get_candles_windows_and_limits(manual_client: Client) -> None:
    md, meta = manual_client.md, manual_client.metadata
    started = time.perf_counter()
    full = await md.GetCandles(_candles(limit=2400), metadata=meta)
    assert time.perf_counter() - started < 1.0  # ~60 ms on a laptop; generous for a loaded CI box
    assert len(full.candles) == 2400 and not full.candles[-1].is_complete
    assert all(c.is_complete for c in full.candles[:-1])
    assert full.candles[-1].time.seconds == int(START) // 60 * 60
    capped = await md.GetCandles(_candles(limit=5000), metadata=meta)
    assert len(capped.candles) == 2400
    window = await md.GetCandles(_candles(from_=START - 3600, to=START - 1800), metadata=meta)
    assert len(window.candles) == 30
    error = await _error(md.GetCandles(_candles(from_=START - DAY - 60, to=START), metadata=meta))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details() == "30014"
    error = await _error(md.GetCandles(_candles(), metadata=meta))
    assert error.details() == "30228"
    error = await _error(md.GetCandles(_candles(from_=START, to=START - 60), metadata=meta))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details() == "30012"
    unknown = marketdata_pb2.GetCandlesRequest(instrument_id="NOPE", interval=M1, limit=1)
    error = await _error(md.GetCandles(unknown, metadata=meta))
    assert error.code() == grpc.StatusCode.NOT_FOUND and error.details() == "50002"


async def test_every_interval_is_self_consistent(manual_sim: SimServer) -> None:
    minutes = {c.time: c for c in manual_sim.history(SBER_UID, Interval.M1, int(START) - DAY, int(START))}
    for interval in (Interval.M5, Interval.H1, Interval.H4):
        for candle in manual_sim.history(SBER_UID, interval, int(START) - DAY, int(START)):
            parts = [
                minutes[t] for t in range(candle.time, candle.time + interval.seconds, 60) if t in minutes
            ]
            assert candle.open == parts[0].open and candle.close == parts[-1].close
            assert candle.high == max(p.high for p in parts) and candle.low == min(p.low for p in parts)
            assert candle.volume == sum(p.volume for p in parts)
    day = Interval.D1.start_of(int(START)) - DAY
    d1 = manual_sim.history(SBER_UID, Interval.D1, day, day + 1)[0]
    parts = manual_sim.history(SBER_UID, Interval.M1, day, day + DAY)
    assert len(parts) == 1440 and d1.volume == sum(p.volume for p in parts)
    assert (d1.open, d1.high, d1.low, d1.close) == (parts[0].open, max(p.high for p in parts),
                                                    min(p.low for p in parts), parts[-1].close)  # fmt: skip
    week = manual_sim.history(SBER_UID, Interval.W1, int(START) - 30 * DAY, int(START))[-1]
    days = manual_sim.history(SBER_UID, Interval.D1, week.time, week.time + 7 * DAY)
    assert week.volume == sum(d.volume for d in days) and week.close == days[-1].close
    assert len(manual_sim.history(SBER_UID, Interval.MN1, int(START) - 3000 * DAY, int(START))) > 90


async def test_determinism_by_seed(manual_clock: ManualClock) -> None:
    def series(seed: int) -> list[float]:
        server = SimServer(SimConfig(seed=seed), clock=manual_clock)
        return [c.close for c in server.history(SBER_UID, Interval.M1, int(START) - 3600, int(START))]

    assert series(1) == series(1)
    assert series(1) != series(2)


async def test_last_prices_and_statuses(manual_client: Client) -> None:
    md, meta = manual_client.md, manual_client.metadata
    prices = await md.GetLastPrices(
        marketdata_pb2.GetLastPricesRequest(instrument_id=[SBER_UID]), metadata=meta
    )
    assert prices.last_prices[0].figi == SBER_FIGI and quotation_to_float(prices.last_prices[0].price) > 0
    everything = await md.GetLastPrices(marketdata_pb2.GetLastPricesRequest(), metadata=meta)
    assert len(everything.last_prices) >= 12
    status = await md.GetTradingStatus(
        marketdata_pb2.GetTradingStatusRequest(instrument_id="SBER_TQBR"), metadata=meta
    )
    assert status.trading_status == common_pb2.SECURITY_TRADING_STATUS_NORMAL_TRADING
    statuses = await md.GetTradingStatuses(
        marketdata_pb2.GetTradingStatusesRequest(instrument_id=[SBER_UID, "GAZP_TQBR"]), metadata=meta
    )
    assert [s.ticker for s in statuses.trading_statuses] == ["SBER", "GAZP"]


async def test_instruments(manual_sim: SimServer, manual_client: Client) -> None:
    api, meta = manual_client.instruments, manual_client.metadata
    kinds = {i.kind for i in manual_sim.catalogue}
    assert len(manual_sim.catalogue) >= 12 and {"share", "bond", "etf", "futures", "currency"} <= kinds

    def by(id_type: int, id: str, class_code: str | None = None) -> instruments_pb2.InstrumentRequest:
        request = instruments_pb2.InstrumentRequest(id_type=id_type, id=id)  # type: ignore[arg-type]
        if class_code is not None:
            request.class_code = class_code
        return request

    figi = await api.GetInstrumentBy(by(id_type=1, id=SBER_FIGI), metadata=meta)
    ticker = await api.GetInstrumentBy(by(id_type=2, id="SBER", class_code="TQBR"), metadata=meta)
    uid = await api.GetInstrumentBy(by(id_type=3, id=SBER_UID), metadata=meta)
    assert figi.instrument.uid == ticker.instrument.uid == uid.instrument.uid == SBER_UID
    assert uid.instrument.lot == 10 and quotation_to_float(uid.instrument.min_price_increment) == 0.01
    error = await _error(api.GetInstrumentBy(by(id_type=2, id="SBER"), metadata=meta))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details() == "30013"
    error = await _error(api.GetInstrumentBy(by(id_type=3, id="nope"), metadata=meta))
    assert error.code() == grpc.StatusCode.NOT_FOUND and error.details() == "50002"
    share = await api.ShareBy(by(id_type=2, id="LKOH", class_code="TQBR"), metadata=meta)
    assert share.instrument.lot == 1 and share.instrument.isin == "RU0009024277"
    error = await _error(api.ShareBy(by(id_type=2, id="SU26238RMFS4", class_code="TQOB"), metadata=meta))
    assert error.details() == "50002"
    shares = await api.Shares(instruments_pb2.InstrumentsRequest(), metadata=meta)
    assert len(shares.instruments) >= 12 and all(s.class_code == "TQBR" for s in shares.instruments)
    found = await api.FindInstrument(
        instruments_pb2.FindInstrumentRequest(query="сбер", instrument_kind=common_pb2.INSTRUMENT_TYPE_SHARE),
        metadata=meta,
    )
    assert [i.ticker for i in found.instruments] == ["SBER"]
    found = await api.FindInstrument(
        instruments_pb2.FindInstrumentRequest(query="bbg004730rp0"), metadata=meta
    )
    assert [i.ticker for i in found.instruments] == ["GAZP"]


async def test_auth_like_the_real_api(manual_sim: SimServer) -> None:
    for token in ("wrong", None):
        client = Client(manual_sim, token="wrong")
        meta = client.metadata if token else ()
        call = client.md.GetLastPrices(marketdata_pb2.GetLastPricesRequest(), metadata=meta)
        error = await _error(call)
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED and error.details() == "40003"
        assert ("message", "authentication token is missing or invalid") in tuple(
            error.trailing_metadata() or ()
        )
        stream = client.streams.MarketDataStream(metadata=meta)
        await stream.write(candles_request(SBER_UID))
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await read_until(stream, kind("subscribe_candles_response"))
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED and caught.value.details() == "40003"
        await client.close()


async def test_rate_limit_headers_and_80002(manual_clock: ManualClock) -> None:
    async with SimServer(SimConfig(unary_limit_per_minute=3), clock=manual_clock) as sim:
        client = Client(sim)
        request = marketdata_pb2.GetLastPricesRequest(instrument_id=[SBER_UID])
        for remaining in (2, 1, 0):
            call = client.md.GetLastPrices(request, metadata=client.metadata)
            await call
            headers = dict(await call.initial_metadata())
            assert headers["x-ratelimit-limit"] == "3, 3;w=60" and headers["x-ratelimit-remaining"] == str(
                remaining
            )
            assert len(headers["x-tracking-id"]) == 32 and 1 <= int(headers["x-ratelimit-reset"]) <= 60
        error = await _error(client.md.GetLastPrices(request, metadata=client.metadata))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and error.details() == "80002"
        manual_clock.advance(60)
        await client.md.GetLastPrices(request, metadata=client.metadata)
        await client.close()

"""The bidi market-data stream against a running simulator."""

from __future__ import annotations

import asyncio

from monitor.feed.testing import ManualClock
from monitor.market import Interval
from monitor.pb import marketdata_pb2
from monitor.sim import SimServer
from monitor.wire import quotation_to_float
from tests.sim.helpers import active_subscriptions

from .helpers import (
    SBER_FIGI,
    SBER_UID,
    START,
    Client,
    candles_request,
    kind,
    read_until,
    request,
    server_side_request,
)

OK = marketdata_pb2.SUBSCRIPTION_STATUS_SUCCESS


async def test_subscribe_by_figi_uid_and_ticker_classcode(manual_client: Client) -> None:
    call = manual_client.stream()
    await call.write(
        candles_request(SBER_FIGI, "962e2a95-02a9-4171-abd7-aa198dbe643a", "lkoh_tqbr", "NOPE_TQBR")
    )
    response, _ = await read_until(call, kind("subscribe_candles_response"))
    subs = response.subscribe_candles_response.candles_subscriptions
    assert [s.ticker for s in subs] == ["SBER", "GAZP", "LKOH", ""]
    assert [s.subscription_status for s in subs] == [
        OK,
        OK,
        OK,
        marketdata_pb2.SUBSCRIPTION_STATUS_INSTRUMENT_NOT_FOUND,
    ]
    assert subs[0].instrument_uid == SBER_UID and subs[0].figi == SBER_FIGI
    assert subs[3].instrument_uid == "" and subs[3].figi == ""
    assert len({s.stream_id for s in subs}) == 1 and all(len(s.subscription_id) == 36 for s in subs)
    assert len(response.subscribe_candles_response.tracking_id) == 32
    call.cancel()


async def test_forming_then_closed_candles_match_history(manual_sim: SimServer, manual_client: Client,
                                                         manual_clock: ManualClock) -> None:  # fmt: skip
    call = manual_client.stream()
    await call.write(candles_request(SBER_UID))
    await read_until(call, kind("subscribe_candles_response"))
    forming, _ = await read_until(call, kind("candle"))
    assert forming.candle.time.seconds == int(START) // 60 * 60
    manual_clock.advance(60)
    closed, before = await read_until(
        call, lambda m: m.HasField("candle") and m.candle.time.seconds == int(START)
    )
    del before
    truth = manual_sim.history(SBER_UID, Interval.M1, int(START), int(START) + 60, as_of=START + 60)
    assert len(truth) == 1
    assert quotation_to_float(closed.candle.close) == truth[0].close
    assert closed.candle.volume == truth[0].volume
    call.cancel()


def _status(m: marketdata_pb2.MarketDataResponse) -> list[int]:
    return [s.subscription_status for s in m.subscribe_candles_response.candles_subscriptions]


async def test_waiting_close_sends_only_closed_candles_and_never_skips(
    manual_client: Client, manual_clock: ManualClock
) -> None:
    call = manual_client.stream()
    await call.write(candles_request(SBER_UID, waiting_close=True))
    response, _ = await read_until(call, kind("subscribe_candles_response"))
    assert response.subscribe_candles_response.candles_subscriptions[0].waiting_close
    manual_clock.advance(600)  # ten minutes close within one tick: all ten arrive, in order
    times: list[int] = []
    while len(times) < 10:
        message, _ = await read_until(call, kind("candle"))
        times.append(message.candle.time.seconds)
    first = int(START) // 60 * 60
    assert sorted(set(times)) == [first + 60 * k for k in range(10)]
    assert times == sorted(times) or len(times) > len(set(times))  # corrections may follow their minute
    call.cancel()


async def test_statuses_invalid_interval_not_found_limit_and_rate(manual_sim: SimServer) -> None:
    from monitor.sim import SimConfig

    async with SimServer(SimConfig(max_subscriptions_per_stream=2, subscription_requests_per_minute=4),
                         clock=manual_sim.clock) as sim:  # fmt: skip
        client = Client(sim)
        call = client.stream()
        await call.write(candles_request("SBER_TQBR", "GAZP_TQBR", "LKOH_TQBR"))
        m, _ = await read_until(call, kind("subscribe_candles_response"))
        assert _status(m) == [OK, OK, marketdata_pb2.SUBSCRIPTION_STATUS_LIMIT_IS_EXCEEDED]
        await call.write(candles_request("SBER_TQBR", interval=0))
        m, _ = await read_until(call, kind("subscribe_candles_response"))
        assert _status(m) == [marketdata_pb2.SUBSCRIPTION_STATUS_INTERVAL_IS_INVALID]
        await call.write(candles_request("ROSN_TQBR", action=2))
        m, _ = await read_until(call, kind("subscribe_candles_response"))
        assert _status(m) == [marketdata_pb2.SUBSCRIPTION_STATUS_SUBSCRIPTION_NOT_FOUND]
        await call.write(candles_request("SBER_TQBR", action=2))
        m, _ = await read_until(call, kind("subscribe_candles_response"))
        assert _status(m) == [OK]
        await call.write(candles_request("SBER_TQBR", "GAZP_TQBR"))  # the fifth request in a sim minute
        m, _ = await read_until(call, kind("subscribe_candles_response"))
        too_many = marketdata_pb2.SUBSCRIPTION_STATUS_TOO_MANY_REQUESTS
        assert _status(m) == [too_many, too_many]
        assert sim.stats.subscribe_requests == 5
        assert active_subscriptions(sim.stats) == {
            m.subscribe_candles_response.candles_subscriptions[0].stream_id: 1
        }
        call.cancel()
        await client.close()


async def test_pings_at_requested_delay_and_echo(manual_client: Client, manual_clock: ManualClock) -> None:
    call = manual_client.stream()
    await call.write(request(ping_settings={"ping_delay_ms": 5000}))
    await call.write(candles_request(SBER_UID, waiting_close=True, interval=4))
    await read_until(call, kind("subscribe_candles_response"))
    await call.write(request(ping={"time": "1970-01-01T00:02:03.000000456Z"}))
    echo, _ = await read_until(call, kind("ping"))
    assert echo.ping.ping_request_time.seconds == 123 and echo.ping.ping_request_time.nanos == 456
    manual_clock.advance(4.9)
    manual_clock.advance(0.2)
    ping, _ = await read_until(call, kind("ping"))
    assert not ping.ping.HasField("ping_request_time") and ping.ping.stream_id
    assert ping.ping.time.seconds >= int(START + 5)
    call.cancel()


async def test_my_subscriptions_info_and_last_price(manual_client: Client) -> None:
    call = manual_client.stream()
    await call.write(candles_request(SBER_UID))
    await call.write(
        request(
            subscribe_info_request={"subscription_action": 1, "instruments": [{"instrument_id": SBER_FIGI}]}
        )
    )
    await call.write(
        request(
            subscribe_last_price_request={
                "subscription_action": 1,
                "instruments": [{"instrument_id": "GAZP_TQBR"}],
            }
        )
    )
    status, _ = await read_until(call, kind("trading_status"))
    assert status.trading_status.trading_status == 5 and status.trading_status.instrument_uid == SBER_UID
    price, _ = await read_until(call, kind("last_price"))
    assert price.last_price.ticker == "GAZP" and price.last_price.price.units > 0
    await call.write(request(get_my_subscriptions={}))
    kinds: set[str] = set()
    while len(kinds) < 3:
        m, _ = await read_until(call, lambda m: str(m.WhichOneof("payload")).startswith("subscribe_"))
        kinds.add(str(m.WhichOneof("payload")))
    assert kinds == {"subscribe_candles_response", "subscribe_info_response", "subscribe_last_price_response"}
    call.cancel()


async def test_idle_stream_closed_with_80004(
    manual_sim: SimServer, manual_client: Client, manual_clock: ManualClock
) -> None:
    import grpc

    call = manual_client.stream()
    await call.write(candles_request(SBER_UID))
    await read_until(call, kind("subscribe_candles_response"))
    await call.write(candles_request(SBER_UID, action=2))
    await read_until(call, kind("subscribe_candles_response"))
    # The idle time counts from the tick that finds the stream empty: wait for that tick, or the
    # clock could jump before it and the stream would count as idle from after the jump.
    (session,) = manual_sim.stats.sessions.values()
    async with asyncio.timeout(10):
        while getattr(session, "idle_since", None) is None:
            await asyncio.sleep(0.005)
    manual_clock.advance(60)
    manual_clock.advance(61)
    try:
        await read_until(call, lambda m: False)
    except grpc.aio.AioRpcError as error:
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and error.details() == "80004"
    else:
        raise AssertionError("the stream stayed open")


async def test_correction_then_getcandles_agrees(manual_sim: SimServer, manual_client: Client,
                                                manual_clock: ManualClock) -> None:  # fmt: skip
    market = manual_sim.market
    first = int(START) // 60 * 60
    minute = next(m for m in range(first, first + 3600 * 24, 60) if market.has_correction(SBER_UID, m + 60))
    manual_clock.advance(minute - START)
    call = manual_client.stream()
    await call.write(candles_request(SBER_UID, waiting_close=True))
    await read_until(call, kind("subscribe_candles_response"))
    manual_clock.advance(60)
    preliminary, _ = await read_until(
        call, lambda m: m.HasField("candle") and m.candle.time.seconds == minute
    )
    manual_clock.advance(10)
    corrected, _ = await read_until(call, lambda m: m.HasField("candle") and m.candle.time.seconds == minute)
    assert (preliminary.candle.volume, preliminary.candle.close) != (
        corrected.candle.volume,
        corrected.candle.close,
    )
    early = manual_sim.history(SBER_UID, Interval.M1, minute, minute + 60, as_of=minute + 61)[0]
    late = manual_sim.history(SBER_UID, Interval.M1, minute, minute + 60)[0]
    assert early.volume == preliminary.candle.volume and late.volume == corrected.candle.volume
    response = await manual_client.md.GetCandles(
        marketdata_pb2.GetCandlesRequest(
            instrument_id=SBER_UID, interval=marketdata_pb2.CANDLE_INTERVAL_1_MIN, limit=3
        ),
        metadata=manual_client.metadata,
    )
    historic = next(c for c in response.candles if c.time.seconds == minute)
    assert historic.is_complete and historic.volume == corrected.candle.volume
    assert historic.close == corrected.candle.close and historic.high == corrected.candle.high
    call.cancel()


async def test_server_side_stream(manual_client: Client) -> None:
    request = server_side_request(
        subscribe_candles_request={
            "subscription_action": 1,
            "instruments": [{"instrument_id": SBER_UID, "interval": 1}],
        },
        ping_settings={"ping_delay_ms": 5000},
    )
    call = manual_client.streams.MarketDataServerSideStream(request, metadata=manual_client.metadata)
    first = await call.read()
    assert isinstance(first, marketdata_pb2.MarketDataResponse)
    assert first.subscribe_candles_response.candles_subscriptions[0].subscription_status == OK
    second = await call.read()
    assert isinstance(second, marketdata_pb2.MarketDataResponse)
    assert second.HasField("candle")
    call.cancel()


async def test_fast_scaled_clock_closes_candles(sim: SimServer, client: Client) -> None:
    call = client.stream()
    await call.write(candles_request(SBER_UID))
    await read_until(call, kind("subscribe_candles_response"))
    forming, _ = await read_until(call, kind("candle"))
    start = forming.candle.time.seconds
    closed, _ = await read_until(call, lambda m: m.HasField("candle") and m.candle.time.seconds == start + 60)
    truth = sim.history(SBER_UID, Interval.M1, start, start + 60)
    assert truth and truth[0].time == start
    del closed
    call.cancel()


async def test_three_hundred_subscriptions_on_one_stream(sim: SimServer, client: Client) -> None:
    """The real limit: 300 candle series (100 instruments on three intervals) fit, the 301st does not."""
    call = client.stream()
    ids = [i.uid for i in sim.catalogue][:101]
    wanted = [(uid, interval) for uid in ids[:100] for interval in (1, 2, 3)]
    instruments = [{"instrument_id": u, "interval": i} for u, i in wanted]
    await call.write(
        request(subscribe_candles_request={"subscription_action": 1, "instruments": instruments})
    )
    response, _ = await read_until(call, kind("subscribe_candles_response"))
    assert _status(response) == [OK] * 300
    await call.write(candles_request(ids[100]))
    response, _ = await read_until(call, kind("subscribe_candles_response"))
    assert _status(response) == [marketdata_pb2.SUBSCRIPTION_STATUS_LIMIT_IS_EXCEEDED]
    seen: set[str] = set()
    while len(seen) < 100:
        message, _ = await read_until(call, kind("candle"))
        seen.add(message.candle.instrument_uid)
    assert seen == set(ids[:100])
    call.cancel()

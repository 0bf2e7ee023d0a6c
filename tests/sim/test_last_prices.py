"""GetLastPrices without ids: every tradable instrument's price at one instant, cheap to make, and the
same price the per-id call, GetCandles and the candle stream give for that instant."""

from __future__ import annotations

import random

from google.protobuf.timestamp_pb2 import Timestamp

from monitor.feed.testing import ManualClock
from monitor.market import Interval
from monitor.pb import common_pb2, marketdata_pb2
from monitor.sim import SimConfig, SimServer
from monitor.sim.market import DAY

from .helpers import START, Client, candles_request, kind, read_until

M1 = marketdata_pb2.CANDLE_INTERVAL_1_MIN
SATURDAY_NOON = START + 5 * DAY - 4 * 3600  # START is a Monday, 16:00 UTC


def timestamp_to_seconds(stamp: Timestamp) -> float:
    return stamp.seconds + stamp.nanos / 1e9


def _prices(answer: marketdata_pb2.GetLastPricesResponse) -> dict[str, tuple[int, int, float]]:
    """uid -> (units, nano, time) of each price."""
    return {
        p.instrument_uid: (p.price.units, p.price.nano, timestamp_to_seconds(p.time))
        for p in answer.last_prices
    }


async def test_no_ids_holds_every_tradable_instrument_and_equals_the_per_id_answers(
    manual_sim: SimServer, manual_client: Client
) -> None:
    md, meta = manual_client.md, manual_client.metadata
    catalogue = manual_sim.state.catalogue.items
    answer = await md.GetLastPrices(marketdata_pb2.GetLastPricesRequest(), metadata=meta)
    # Every tradable one that has traded by now (futures of 2027 have no first candle yet).
    traded = [i for i in catalogue if i.first_1min <= START]
    assert 0 < len(catalogue) - len(traded) <= 100
    tradable = [i.uid for i in traded if i.api_tradable]
    assert len(tradable) > 800 and len(tradable) < len(traded)  # some are listed under ALL only
    assert [p.instrument_uid for p in answer.last_prices] == tradable
    everything = marketdata_pb2.GetLastPricesRequest(instrument_status=common_pb2.INSTRUMENT_STATUS_ALL)
    every = await md.GetLastPrices(everything, metadata=meta)
    assert [p.instrument_uid for p in every.last_prices] == [i.uid for i in traded]
    no_ids = _prices(every)
    assert {t for _, _, t in no_ids.values()} == {START}  # the clock stands: one instant for all
    by_id = marketdata_pb2.GetLastPricesRequest(instrument_id=[i.uid for i in catalogue])
    assert _prices(await md.GetLastPrices(by_id, metadata=meta)) == no_ids
    for item in random.Random(1).sample(traded, 40):  # one id a call, by FIGI for a change
        one = marketdata_pb2.GetLastPricesRequest(instrument_id=[item.instrument.figi])
        assert _prices(await md.GetLastPrices(one, metadata=meta)) == {item.uid: no_ids[item.uid]}


async def test_no_ids_prices_are_the_forming_candles_closes_of_get_candles_and_the_stream(
    manual_sim: SimServer, manual_client: Client, manual_clock: ManualClock
) -> None:
    md, meta = manual_client.md, manual_client.metadata
    catalogue = manual_sim.state.catalogue.items
    manual_clock.advance(37.25)  # inside a minute, so the forming candle is part-way through it
    now = manual_clock.now()
    answer = await md.GetLastPrices(marketdata_pb2.GetLastPricesRequest(), metadata=meta)
    prices = {p.instrument_uid: p for p in answer.last_prices}
    sample = random.Random(2).sample([i for i in catalogue if i.api_tradable and i.first_1min <= now], 60)
    for item in sample:
        request = marketdata_pb2.GetCandlesRequest(instrument_id=item.uid, interval=M1, limit=1)
        (forming,) = (await md.GetCandles(request, metadata=meta)).candles
        assert not forming.is_complete and forming.time.seconds == int(now) // 60 * 60
        assert forming.close == prices[item.uid].price, item.instrument.symbol
        assert timestamp_to_seconds(prices[item.uid].time) == now
    call = manual_client.stream()
    streamed = sample[:12]
    await call.write(candles_request(*(i.uid for i in streamed)))
    closes: dict[str, object] = {}
    while len(closes) < len(streamed):
        message, _ = await read_until(call, kind("candle"))
        closes[message.candle.instrument_uid] = message.candle.close
    assert closes == {i.uid: prices[i.uid].price for i in streamed}
    call.cancel()


async def test_outside_trading_the_price_is_the_last_closed_candles_close() -> None:
    """With sessions, in the break and at the weekend: the close of the last trading minute, stamped
    at its last trade, as GetCandles has that minute."""
    for at in (START, SATURDAY_NOON):
        clock = ManualClock(at)
        async with SimServer(SimConfig(sessions=True), clock=clock) as sim:
            client = Client(sim)
            md, meta = client.md, client.metadata
            sample = random.Random(3).sample(sim.state.catalogue.items, 15)
            request = marketdata_pb2.GetLastPricesRequest(instrument_id=[i.uid for i in sample])
            answer = await md.GetLastPrices(request, metadata=meta)
            prices = {p.instrument_uid: p for p in answer.last_prices}
            for item in sample:
                if item.first_1min > at:  # not trading yet: no price, as no candle
                    assert item.uid not in prices
                    continue
                window = marketdata_pb2.GetCandlesRequest(instrument_id=item.uid, interval=M1)
                getattr(window, "from").seconds = int(at) - 20 * 3600
                window.to.seconds = int(at)
                last = (await md.GetCandles(window, metadata=meta)).candles[-1]
                assert last.is_complete and last.close == prices[item.uid].price
                stamp = timestamp_to_seconds(prices[item.uid].time)
                assert last.time.seconds < stamp < last.time.seconds + 60 < at
            await client.close()


def test_the_last_price_is_the_minute_candles_close_bit_for_bit(manual_sim: SimServer) -> None:
    """The cheap price (one minute alone) against the day of minute candles, at instants all over a
    few days, with and without sessions: the same ticks and the same trade time."""
    from monitor.sim.market import Market
    from monitor.sim.sessions import Sessions

    catalogue = manual_sim.state.catalogue
    rng = random.Random(4)
    for sessions in (False, True):
        market = Market(catalogue, manual_sim.config.seed, Sessions(sessions))
        for item in rng.sample([i for i in catalogue.items if i.first_1min < START - 3 * DAY], 4):
            for _ in range(30):
                t = START + rng.uniform(-3 * DAY, 2 * DAY)
                minute = int(t) // 60 * 60
                found = market.candle(item.uid, Interval.M1, minute, t)
                price = market.last_price(item.uid, t)
                assert price is not None
                if found is not None:  # a trading minute: the forming candle's close, now
                    assert price == (found[0].close, t)
                else:  # the last trading minute's final close, at its last trade
                    before = market.history(item, Interval.M1, minute - 4 * DAY, minute, t)[-1]
                    closed = market.candle(item.uid, Interval.M1, before.time, t)
                    assert closed is not None and price == (closed[0].close, closed[0].last_trade)

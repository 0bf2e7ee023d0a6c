"""The server's stamps the feed measures lag by: truthful `last_trade_ts`, and the `late` fault."""

from __future__ import annotations

import asyncio
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from monitor.feed.testing import ManualClock
from monitor.sim import SimServer

from .helpers import SBER_UID, Client, candles_request, kind, read_until


def seconds(stamp: Timestamp) -> float:
    return stamp.seconds + stamp.nanos / 1e9


async def _subscribed(client: Client) -> Any:
    call = client.stream()
    await call.write(candles_request(SBER_UID))
    await read_until(call, kind("subscribe_candles_response"))
    return call


async def test_last_trade_ts_is_the_newest_trade_and_never_goes_back(
    manual_sim: SimServer, manual_client: Client, manual_clock: ManualClock
) -> None:
    """A forming candle's last trade is when it was built; the closing candle of the same period
    includes every trade of it, so its last trade is no earlier (it said :59 after a :59.6 update)."""
    call = await _subscribed(manual_client)
    first, _ = await read_until(call, kind("candle"))
    period = first.candle.time.seconds
    assert period <= seconds(first.candle.last_trade_ts) <= manual_clock.now()
    end = period + 60
    assert end - 0.4 > manual_clock.now()
    manual_clock.advance(end - 0.4 - manual_clock.now())
    forming, _ = await read_until(
        call, lambda m: m.HasField("candle") and seconds(m.candle.last_trade_ts) > end - 1
    )
    assert forming.candle.time.seconds == period
    assert seconds(forming.candle.last_trade_ts) == manual_clock.now()  # built now: the newest trade
    manual_clock.advance(1.0)
    _, before = await read_until(call, lambda m: m.HasField("candle") and m.candle.time.seconds == end)
    closing = [m.candle for m in before if m.HasField("candle") and m.candle.time.seconds == period][-1]
    assert seconds(forming.candle.last_trade_ts) <= seconds(closing.last_trade_ts) < end


async def test_late_holds_every_message_until_its_stamp_plus_the_lateness(
    manual_sim: SimServer, manual_client: Client, manual_clock: ManualClock
) -> None:
    call = await _subscribed(manual_client)
    await read_until(call, kind("candle"))
    manual_sim.faults.late(30)
    manual_clock.advance(5)  # a forming candle is built (stamped now), then held for 30 sim seconds
    pending = asyncio.ensure_future(read_until(call, kind("candle")))
    done, _ = await asyncio.wait({pending}, timeout=0.3)  # a bounded look for the hold
    assert not done
    manual_clock.advance(30)
    message, _ = await asyncio.wait_for(pending, 10)
    assert manual_clock.now() - seconds(message.candle.last_trade_ts) >= 30  # stamped, then 30 s late
    manual_sim.faults.clear()
    assert manual_sim.faults.late_seconds == 0
    manual_clock.advance(5)
    message, _ = await read_until(call, kind("candle"))
    assert manual_clock.now() - seconds(message.candle.last_trade_ts) < 1  # on time again

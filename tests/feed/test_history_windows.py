"""HistoryClient under the real GetCandles window rule (a candle only when its start lies in [from, to),
nothing for a window shorter than one period): ranges that end off a period boundary lose nothing."""

from __future__ import annotations

import calendar

import pytest
from grpc import aio

from monitor.feed.history import HistoryClient
from monitor.feed.testing import ManualClock
from monitor.market import Candle, Interval
from monitor.sim import SimConfig, SimServer

NOW = calendar.timegm((2026, 11, 25, 10, 0, 0)) + 37
DAY, HOUR = 86_400, 3600


def rows(candles: list[Candle]) -> list[tuple[int, float, float, float, float, int]]:
    return [(c.time, c.open, c.high, c.low, c.close, c.volume) for c in candles]


@pytest.mark.parametrize(
    ("interval", "start", "end"),
    [
        (Interval.H1, NOW - 5 * HOUR - 37, NOW - 5 * HOUR + 40 * 60),  # one closed hour, a 40-minute range
        (Interval.D1, Interval.D1.start_of(NOW) - 3 * DAY, Interval.D1.start_of(NOW) - 3 * DAY + 12 * HOUR),
        (Interval.M15, NOW - DAY + 123, NOW - 2 * HOUR + 7),  # both ends off a boundary, two chunks
        (Interval.W1, Interval.W1.start_of(NOW) - 14 * DAY, Interval.W1.start_of(NOW) - 4 * DAY),
    ],
)
async def test_fetch_ending_off_a_boundary_gets_every_candle_starting_inside(
    interval: Interval, start: int, end: int
) -> None:
    clock = ManualClock(start=NOW)
    async with SimServer(SimConfig(), clock=clock) as sim:
        channel = aio.insecure_channel(sim.address)
        client = HistoryClient(channel, (("authorization", f"Bearer {sim.token}"),), clock=clock)
        uid = sim.catalogue[0].uid
        expected = [c for c in sim.history(uid, interval, start, end) if c.time >= start]
        assert expected, "the range holds a closed candle"
        assert rows(await client.fetch(uid, interval, start, end)) == rows(expected)
        recent = await client.recent(uid, interval, 1, before=end)
        assert rows(recent) == rows(expected[-1:])
        await channel.close()

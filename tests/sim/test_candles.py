"""GetCandles as the real API answers it: candles whose start lies in [from, to), and the seconds
intervals (CandleInterval 14-16), read over gRPC the way a client reads them."""

from __future__ import annotations

import calendar

import grpc
import pytest

from monitor.feed.testing import ManualClock
from monitor.market import Interval, SecondsInterval
from monitor.pb import marketdata_pb2
from monitor.sim import SimServer
from monitor.wire import quotation_to_float

from .helpers import SBER_UID, START, Client, candles_request, kind, read_until

DAY, HOUR = 86_400, 3600
NOW = int(START)  # 2025-11-24 16:00 UTC, a Monday
TODAY = NOW - NOW % DAY
OHLCV = tuple[int, float, float, float, float, int, bool]


def request(
    interval: int, start: int | None = None, end: int | None = None, limit: int | None = None
) -> marketdata_pb2.GetCandlesRequest:
    message = marketdata_pb2.GetCandlesRequest(instrument_id=SBER_UID, interval=interval)  # type: ignore[arg-type]
    if start is not None:
        getattr(message, "from").seconds = start
    if end is not None:
        message.to.seconds = end
    if limit is not None:
        message.limit = limit
    return message


async def candles(client: Client, interval: int, start: int | None = None, end: int | None = None,
                  limit: int | None = None) -> list[OHLCV]:  # fmt: skip
    answer = await client.md.GetCandles(request(interval, start, end, limit), metadata=client.metadata)
    return [
        (c.time.seconds, quotation_to_float(c.open), quotation_to_float(c.high), quotation_to_float(c.low),
         quotation_to_float(c.close), c.volume, c.is_complete)
        for c in answer.candles
    ]  # fmt: skip


def starts(rows: list[OHLCV]) -> list[int]:
    return [row[0] for row in rows]


def aggregate(rows: list[OHLCV]) -> tuple[float, float, float, float, int]:
    return (
        rows[0][1],
        max(r[2] for r in rows),
        min(r[3] for r in rows),
        rows[-1][4],
        sum(r[5] for r in rows),
    )


async def test_a_candle_comes_back_only_when_its_start_lies_in_the_window(manual_client: Client) -> None:
    h1, d1, w1, mn1 = (i.value for i in (Interval.H1, Interval.D1, Interval.W1, Interval.MN1))
    yesterday = TODAY - DAY
    # Windows shorter than one period: empty, not the period that contains `from` (the FAQ).
    assert await candles(manual_client, d1, yesterday + 10 * HOUR, yesterday + 11 * HOUR) == []
    assert await candles(manual_client, h1, NOW - 5 * HOUR + 600, NOW - 5 * HOUR + 2400) == []
    assert await candles(manual_client, h1, NOW - 5 * HOUR, NOW - 5 * HOUR + 1800) == []
    # Longer windows: the periods starting inside, never the one `from` falls in.
    assert starts(await candles(manual_client, h1, NOW - 5 * HOUR + 600, NOW - 3 * HOUR + 600)) == [
        NOW - 4 * HOUR, NOW - 3 * HOUR,
    ]  # fmt: skip
    assert starts(await candles(manual_client, h1, NOW - 5 * HOUR, NOW - 4 * HOUR)) == [NOW - 5 * HOUR]
    # Day candles ignore the time of day (the FAQ's example: 12:00 one day to 07:00 the next = both days).
    day = TODAY - 3 * DAY
    assert starts(await candles(manual_client, d1, day + 12 * HOUR, day + DAY + 7 * HOUR)) == [day, day + DAY]
    monday = Interval.W1.start_of(NOW)
    assert await candles(manual_client, w1, monday - 7 * DAY + HOUR, monday) == []  # under a week
    assert starts(await candles(manual_client, w1, monday - 8 * DAY, monday)) == [monday - 7 * DAY]
    february, march = calendar.timegm((2025, 2, 1, 0, 0, 0)), calendar.timegm((2025, 3, 1, 0, 0, 0))
    assert starts(await candles(manual_client, mn1, february, march)) == [february]  # 28 days: one month
    assert await candles(manual_client, mn1, march, march + 27 * DAY) == []  # shorter than any month


async def test_seconds_candles_split_their_minute_exactly(manual_client: Client) -> None:
    minute = NOW - 7 * 60
    m1 = await candles(manual_client, Interval.M1.value, minute, minute + 60)
    assert len(m1) == 1 and m1[0][6]
    for interval, count in ((SecondsInterval.S5, 12), (SecondsInterval.S10, 6), (SecondsInterval.S30, 2)):
        parts = await candles(manual_client, interval.value, minute, minute + 60)
        assert starts(parts) == list(range(minute, minute + 60, interval.seconds)) and len(parts) == count
        assert all(row[6] for row in parts)
        assert all(m1[0][3] <= row[3] <= min(row[1], row[4]) <= max(row[1], row[4]) <= row[2] <= m1[0][2]
                   for row in parts)  # fmt: skip
        assert aggregate(parts) == aggregate(m1)
    # Deterministic: the same request gives the same candles.
    assert await candles(manual_client, 14, minute, minute + 60) == await candles(
        manual_client, 14, minute, minute + 60
    )


async def test_the_forming_minute_is_its_seconds_candles_so_far(
    manual_sim: SimServer, manual_clock: ManualClock, manual_client: Client
) -> None:
    manual_clock.advance(37.5)  # 16:00:37.5: seven 5-second candles closed, the eighth forming
    minute = NOW
    forming = await candles(manual_client, Interval.M1.value, minute, minute + 60)
    parts = await candles(manual_client, SecondsInterval.S5.value, minute, minute + 60)
    assert starts(parts) == list(range(minute, minute + 40, 5))
    assert [row[6] for row in parts] == [True] * 7 + [False] and forming[0][6] is False
    assert aggregate(parts) == aggregate(forming)


@pytest.mark.parametrize(
    ("interval", "window", "cap"),
    [(SecondsInterval.S5, 200 * 60, 2500), (SecondsInterval.S10, 200 * 60, 1250),
     (SecondsInterval.S30, 20 * HOUR, 2500)],
)  # fmt: skip
async def test_seconds_windows_and_limit_caps(
    manual_client: Client, interval: SecondsInterval, window: int, cap: int
) -> None:
    end = NOW - 60
    full = await candles(manual_client, interval.value, end - window, end)
    assert starts(full) == list(range(end - window, end, interval.seconds))
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await candles(manual_client, interval.value, end - window - 1, end)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT and caught.value.details() == "30014"
    assert len(await candles(manual_client, interval.value, end=end, limit=cap + 1000)) == cap
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await candles(manual_client, 17, NOW - 60, NOW)
    assert caught.value.details() == "30011"


async def test_the_stream_has_no_seconds_intervals(manual_client: Client) -> None:
    assert {i.value for i in Interval}.isdisjoint(i.value for i in SecondsInterval)
    stream = manual_client.stream()
    await stream.write(candles_request(SBER_UID, interval=SecondsInterval.S5.value))
    response, _ = await read_until(stream, kind("subscribe_candles_response"))
    status = response.subscribe_candles_response.candles_subscriptions[0].subscription_status
    assert status == marketdata_pb2.SUBSCRIPTION_STATUS_INTERVAL_IS_INVALID
    stream.cancel()

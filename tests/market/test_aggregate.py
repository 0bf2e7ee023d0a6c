"""aggregate(): true OHLCV per time-aligned group of n candles, stable as candles arrive."""

from __future__ import annotations

import calendar

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.market import Candle, Interval, Origin
from monitor.market.aggregate import aggregate, group_key

T0 = calendar.timegm((2026, 11, 25, 7, 0, 0))  # a round hour, so 5-minute groups start here


def minute(i: int, o: float, h: float, low: float, c: float, v: int, *, closed: bool = True) -> Candle:
    return Candle(T0 + 60 * i, o, h, low, c, v, closed)


def test_a_group_is_first_open_max_high_min_low_last_close_summed_volume() -> None:
    members = [
        minute(0, 10.0, 12.0, 9.5, 11.0, 5),
        minute(1, 11.0, 15.0, 10.0, 14.0, 7),
        minute(2, 14.0, 14.5, 8.0, 9.0, 11),
    ]
    (group,) = aggregate(members, 3, Interval.M1)
    assert group == Candle(T0, 10.0, 15.0, 8.0, 9.0, 23, True, Origin.STREAM)


def test_groups_are_aligned_to_time_not_to_the_first_candle() -> None:
    # The series starts at 07:03: with 5-minute groups the first holds 07:03 and 07:04 only.
    candles = [minute(i, 100.0 + i, 101.0 + i, 99.0 + i, 100.5 + i, 1) for i in range(3, 12)]
    groups = aggregate(candles, 5, Interval.M1)
    assert [g.time for g in groups] == [T0, T0 + 300, T0 + 600]
    assert [g.volume for g in groups] == [2, 5, 2]
    assert groups[0].open == 103.0 and groups[0].close == 104.5
    assert groups[1].open == 105.0 and groups[1].high == 110.0 and groups[1].low == 104.0


def test_a_missing_candle_does_not_pull_the_next_into_the_group() -> None:
    candles = [minute(i, 1.0, 2.0, 0.5, 1.5, 1) for i in (0, 1, 4, 5, 6)]  # 07:02 and 07:03 missing
    groups = aggregate(candles, 3, Interval.M1)
    assert [(g.time, g.volume) for g in groups] == [(T0, 2), (T0 + 180, 2), (T0 + 360, 1)]


def test_a_group_is_closed_only_if_every_member_is() -> None:
    candles = [minute(0, 1, 2, 0.5, 1.5, 1), minute(1, 1.5, 2, 1, 1.8, 1, closed=False)]
    assert aggregate(candles, 2, Interval.M1)[0].closed is False
    assert aggregate(candles[:1], 2, Interval.M1)[0].closed is True


def test_a_group_with_a_backfilled_member_is_backfilled() -> None:
    candles = [minute(0, 1, 2, 0.5, 1.5, 1), minute(1, 1.5, 2, 1, 1.8, 1)._replace(origin=Origin.BACKFILL)]
    assert aggregate(candles, 2, Interval.M1)[0].origin is Origin.BACKFILL
    assert aggregate(candles[:1], 2, Interval.M1)[0].origin is Origin.STREAM


def test_n_of_one_or_less_is_a_copy() -> None:
    candles = [minute(i, 1, 2, 0.5, 1.5, 1) for i in range(4)]
    for n in (1, 0, -3):
        result = aggregate(candles, n, Interval.M1)
        assert result == candles and result is not candles


def test_groups_of_days_start_at_their_first_member() -> None:
    day = 86_400
    start = calendar.timegm((2026, 11, 2, 0, 0, 0))
    candles = [Candle(start + k * day, 1.0, 2.0, 0.5, 1.5, 1, True) for k in range(6)]
    groups = aggregate(candles, 7, Interval.D1)
    assert groups and all(g.time in {c.time for c in candles} for g in groups)
    assert sum(g.volume for g in groups) == 6


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 9),
    start=st.integers(0, 500),
    moves=st.lists(st.tuples(st.floats(-2, 2), st.integers(1, 3)), min_size=1, max_size=80),
)
def test_alignment_is_stable_as_candles_are_appended(
    n: int, start: int, moves: list[tuple[float, int]]
) -> None:
    candles, price, at = [], 100.0, T0 + 60 * start
    for move, skip in moves:
        close = price + move
        candles.append(Candle(at, price, max(price, close) + 0.5, min(price, close) - 0.5, close, 3, True))
        price, at = close, at + 60 * skip
    full = aggregate(candles, n, Interval.M1)
    size = n * 60
    assert all(g.time % size == 0 for g in full)
    for k in range(1, len(candles) + 1):
        partial = aggregate(candles[:k], n, Interval.M1)
        # Every group but the newest is final the moment the next group starts.
        assert partial[:-1] == full[: len(partial) - 1]
        assert partial[-1].time == full[len(partial) - 1].time
        members = [c for c in candles[:k] if group_key(c.time, n, Interval.M1) == partial[-1].time // size]
        assert partial[-1].volume == sum(c.volume for c in members)
        assert partial[-1].high == max(c.high for c in members)
        assert partial[-1].low == min(c.low for c in members)
        assert partial[-1].open == members[0].open and partial[-1].close == members[-1].close


def _folded(candles: list[Candle], n: int, interval: Interval) -> list[Candle]:
    """The definition of aggregate(), one member at a time: consecutive candles of equal key fold."""
    size = n * interval.seconds
    out: list[tuple[int, Candle]] = []
    for candle in candles:
        key = candle.time // size
        if out and out[-1][0] == key:
            held = out[-1][1]
            high, low = max(held.high, candle.high), min(held.low, candle.low)
            origin = Origin.BACKFILL if Origin.BACKFILL in (held.origin, candle.origin) else Origin.STREAM
            merged = Candle(
                held.time,
                held.open,
                high,
                low,
                candle.close,
                held.volume + candle.volume,
                held.closed and candle.closed,
                origin,
            )
            out[-1] = (key, merged)
        else:
            start = key * size if interval.seconds < 86_400 else candle.time
            out.append((key, candle._replace(time=start)))
    return [candle for _, candle in out]


prices = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(2, 20),
    interval=st.sampled_from([Interval.M1, Interval.H1, Interval.D1]),
    rows=st.lists(
        st.tuples(
            st.integers(-3, 6),
            prices,
            prices,
            prices,
            prices,
            st.integers(0, 10**6),
            st.booleans(),
            st.sampled_from(list(Origin)),
        ),
        max_size=60,
    ),
)
def test_a_group_equals_its_members_folded_one_by_one_in_any_order(
    n: int, interval: Interval, rows: list[tuple[int, float, float, float, float, int, bool, Origin]]
) -> None:
    # Steps back and forth in time too: a key that comes back later starts a group of its own.
    candles, at = [], T0
    for step, o, h, low, c, v, closed, origin in rows:
        at += step * interval.seconds
        candles.append(Candle(at, o, h, low, c, v, closed, origin))
    assert aggregate(candles, n, interval) == _folded(candles, n, interval)

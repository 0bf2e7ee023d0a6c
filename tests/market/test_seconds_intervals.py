"""The GetCandles-only seconds intervals: API numbers apart from the stream's, exact period arithmetic."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from monitor.market import Interval, SecondsInterval


def test_numbers_are_candle_interval_14_to_16_and_never_a_stream_interval() -> None:
    assert [(i.value, i.seconds) for i in SecondsInterval] == [(14, 5), (15, 10), (16, 30)]
    assert {i.value for i in Interval}.isdisjoint(i.value for i in SecondsInterval)


@given(st.sampled_from(list(SecondsInterval)), st.integers(min_value=0, max_value=4_000_000_000))
def test_periods_tile_the_minute_they_fall_in(interval: SecondsInterval, ts: int) -> None:
    start = interval.start_of(ts)
    assert start <= ts < interval.next_start(start) and start % interval.seconds == 0
    minute = Interval.M1.start_of(ts)
    assert interval.periods(minute, minute + 60) == list(range(minute, minute + 60, interval.seconds))

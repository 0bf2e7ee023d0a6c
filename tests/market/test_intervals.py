"""Interval names, API numbers and UTC period arithmetic."""

from __future__ import annotations

import calendar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.market import Interval, ordered


def utc(*parts: int) -> int:
    return calendar.timegm((*parts, 0, 0, 0, 0)[:6])


def test_values_are_the_api_numbers() -> None:
    assert (Interval.M1.value, Interval.M5.value, Interval.H1.value, Interval.D1.value) == (1, 2, 4, 5)
    assert (Interval.M2.value, Interval.H4.value, Interval.W1.value, Interval.MN1.value) == (6, 11, 12, 13)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1m", Interval.M1),
        ("15m", Interval.M15),
        ("1h", Interval.H1),
        ("1d", Interval.D1),
        ("1w", Interval.W1),
        ("1M", Interval.MN1),
        ("H4", Interval.H4),
        (" 5m ", Interval.M5),
        ("month", Interval.MN1),
    ],
)
def test_parse(text: str, expected: Interval) -> None:
    assert Interval.parse(text) is expected


def test_parse_rejects_unknown_names_with_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown interval '7x'; expected one of 1m, 2m"):
        Interval.parse("7x")


def test_ordered_runs_from_shortest_to_longest() -> None:
    assert ordered()[0] is Interval.M1 and ordered()[-1] is Interval.MN1
    assert [i.seconds for i in ordered()] == sorted(i.seconds for i in Interval)


def test_week_starts_on_monday_and_month_on_the_first() -> None:
    wednesday = utc(2026, 11, 25) + 13 * 3600
    assert Interval.W1.start_of(wednesday) == utc(2026, 11, 23)
    assert Interval.MN1.start_of(wednesday) == utc(2026, 11, 1)
    assert Interval.MN1.next_start(utc(2026, 12, 1)) == utc(2027, 1, 1)
    assert Interval.H4.start_of(utc(2026, 11, 25) + 5 * 3600) == utc(2026, 11, 25) + 4 * 3600


def test_periods_lists_aligned_starts_in_a_half_open_range() -> None:
    start = utc(2026, 11, 25)
    assert Interval.M1.periods(start + 30, start + 181) == [start + 60, start + 120, start + 180]
    assert Interval.MN1.periods(utc(2026, 1, 1), utc(2026, 4, 1)) == [
        utc(2026, 1, 1),
        utc(2026, 2, 1),
        utc(2026, 3, 1),
    ]


@given(st.sampled_from(list(Interval)), st.integers(min_value=0, max_value=4_000_000_000))
def test_start_of_contains_the_moment(interval: Interval, ts: int) -> None:
    start = interval.start_of(ts)
    assert start <= ts < interval.next_start(start)
    assert interval.start_of(start) == start

"""The measurement helpers: the backoff schedule's allowance and the closed-lines count."""

from __future__ import annotations

import random
from itertools import accumulate, islice

import pytest

from monitor.feed.backoff import backoff
from tests.netfault.measure import closed_lines_per_period, schedule_attempts


class _Lowest(random.Random):
    """Every jitter at its low end: the feed's fastest possible schedule."""

    def uniform(self, a: float, b: float) -> float:
        return min(a, b)


@pytest.mark.parametrize("outage", [0.5, 0.8, 5.0, 10.0, 60.0, 120.0, 600.0])
def test_schedule_attempts_count_the_feeds_own_fastest_curve(outage: float) -> None:
    delays = islice(backoff(rng=_Lowest()), 100)
    allowed = sum(1 for at in accumulate(delays) if at <= outage)
    assert schedule_attempts(outage) == allowed


def test_schedule_attempts_of_known_outages() -> None:
    # Low-end delays 0.8, 1.28, 2.05, 3.28, 5.24 s…: attempts at 0.8, 2.08, 4.13, 7.41, 12.65 s.
    assert [schedule_attempts(s) for s in (0.79, 0.8, 10.0, 13.0)] == [0, 1, 4, 5]
    assert schedule_attempts(120.0) == 9  # the two-minute outage saw 194 connections


def test_closed_lines_per_period_counts_each_closed_line() -> None:
    records = [
        {"instrument": "SBER_TQBR", "time": "t1", "closed": False},
        {"instrument": "SBER_TQBR", "time": "t1", "closed": True},
        {"instrument": "SBER_TQBR", "time": "t1", "closed": True, "correction": True},
        {"instrument": "GAZP_TQBR", "time": "t1", "closed": True},
        {"instrument": "SBER_TQBR", "time": "t2", "closed": True},
    ]
    assert closed_lines_per_period(records) == {
        ("SBER_TQBR", "t1"): 2,
        ("GAZP_TQBR", "t1"): 1,
        ("SBER_TQBR", "t2"): 1,
    }

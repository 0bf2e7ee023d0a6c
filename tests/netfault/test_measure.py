"""The measurement helpers: the backoff schedule's allowance, closed lines, server corrections."""

from __future__ import annotations

import random
from itertools import accumulate, islice

import pytest

from monitor.clock import ScaledClock
from monitor.feed.backoff import backoff
from monitor.market import Interval, SeriesKey
from monitor.sim import SimConfig, SimServer
from tests.netfault.measure import closed_lines_per_period, schedule_attempts, server_corrections
from tests.sim.helpers import SBER_UID


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


def test_server_corrections_are_the_periods_the_sim_changed_after_closing() -> None:
    sim = SimServer(SimConfig(seed=1), clock=ScaledClock(speed=1.0))
    key = SeriesKey(SBER_UID, Interval.M1)
    start = Interval.M1.start_of(int(sim.clock.now())) - 3 * 3600
    periods = range(start, start + 120 * 60, 60)
    corrected = server_corrections(sim, key, periods)
    # The sim corrects some closed candles (late trades), far from all.
    assert corrected and len(corrected) < len(periods) / 2
    for t in corrected:
        first = sim.history(key.uid, key.interval, t, t + 1, as_of=t + 60.001)
        assert first != sim.history(key.uid, key.interval, t, t + 1)

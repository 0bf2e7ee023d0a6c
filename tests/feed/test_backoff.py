"""The reconnect-delay curve against the gRPC connection-backoff numbers."""

from __future__ import annotations

import itertools
import random

import pytest

from monitor.feed.backoff import backoff, slow_delay


class _Fixed(random.Random):
    """An rng whose uniform() returns a fixed point of the range (0 = low end, 1 = high end)."""

    def __init__(self, point: float) -> None:
        super().__init__(0)
        self.point = point

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.point


def test_backoff_without_jitter_follows_1_6_growth_to_the_cap() -> None:
    """Centre of the jitter range: 1, 1.6, 2.56 ... capped at 120 s, forever."""
    delays = list(itertools.islice(backoff(rng=_Fixed(0.5)), 15))
    assert delays[:4] == pytest.approx([1.0, 1.6, 2.56, 4.096])
    assert delays[-1] == pytest.approx(120.0)
    assert max(delays) == pytest.approx(120.0)
    assert all(b >= a for a, b in itertools.pairwise(delays))


@pytest.mark.parametrize(("point", "scale"), [(0.0, 0.8), (1.0, 1.2)])
def test_backoff_jitter_is_plus_minus_20_percent(point: float, scale: float) -> None:
    """The extremes of the jitter are ±20 % of the current backoff, the cap included."""
    delays = list(itertools.islice(backoff(rng=_Fixed(point)), 20))
    assert delays[0] == pytest.approx(scale)
    assert delays[1] == pytest.approx(1.6 * scale)
    assert delays[-1] == pytest.approx(120 * scale)


def test_backoff_with_a_real_rng_stays_in_bounds() -> None:
    """Every delay lies within ±20 % of the nominal curve."""
    rng = random.Random(42)
    nominal = 1.0
    for delay in itertools.islice(backoff(rng=rng), 50):
        assert 0.8 * nominal - 1e-9 <= delay <= 1.2 * nominal + 1e-9
        nominal = min(nominal * 1.6, 120.0)


def test_slow_delay_is_at_least_the_minimum() -> None:
    """80001 waits at least the counter refresh (120 s) plus up to 20 %."""
    rng = random.Random(1)
    for _ in range(100):
        assert 120.0 <= slow_delay(120.0, rng) <= 144.0

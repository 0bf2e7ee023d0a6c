"""The gRPC connection-backoff curve as an infinite generator of reconnect delays."""

from __future__ import annotations

import random
from collections.abc import Iterator

INITIAL = 1.0
FACTOR = 1.6
JITTER = 0.2
CAP = 120.0


def backoff(
    initial: float = INITIAL,
    factor: float = FACTOR,
    jitter: float = JITTER,
    cap: float = CAP,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """Yields reconnect delays forever: `initial`, ×`factor` each time up to `cap`, each ±`jitter`.

    The jitter is uniform around the current backoff (grpc doc/connection-backoff.md), so
    clients that start together spread out. The caller resets the curve by asking for a new
    generator once a stream has been stable (see `Feed`).

    Args:
        initial: the first backoff in seconds.
        factor: growth per attempt.
        jitter: relative half-width of the uniform jitter (0.2 = ±20 %).
        cap: the largest backoff before jitter.
        rng: the random source (injected by tests).
    """
    source = rng if rng is not None else random.Random()
    current = min(initial, cap)
    while True:
        yield max(0.0, current + source.uniform(-jitter * current, jitter * current))
        current = min(current * factor, cap)


def slow_delay(minimum: float, rng: random.Random, jitter: float = JITTER) -> float:
    """A delay of at least `minimum` plus up to `jitter` of it (80001: wait a counter refresh)."""
    return minimum + rng.uniform(0.0, jitter * minimum)

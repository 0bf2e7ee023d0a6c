"""Helpers for feed tests against the simulator (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from monitor.feed.config import FeedConfig
from monitor.feed.health import ConnectionState, HealthEvent
from monitor.feed.supervisor import Feed
from monitor.feed.testing import ManualClock
from monitor.market import Interval, SeriesKey, WatchKey

SPEED = 300.0
"""Sim seconds per wall second: a minute candle closes every 0.2 s."""
WATCH = (WatchKey("SBER_TQBR", Interval.M1), WatchKey("GAZP_TQBR", Interval.M1))


class FastManualClock(ManualClock):
    """A stepped clock that claims to run `speed` times wall time, as a ScaledClock would."""

    def __init__(self, speed: float, start: float = 1_764_000_000.0) -> None:
        super().__init__(start)
        self.speed = speed


async def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    """Polls `condition` until true; fails after `timeout` wall seconds (a condition wait only)."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def sim_config(port: int = 0) -> Any:
    from monitor.sim import SimConfig

    return SimConfig(host="127.0.0.1", port=port, tokens=("sim-token",), seed=1, speed=SPEED, sessions=False)


def patient(speed: float, wall_s: float = 30.0) -> dict[str, float]:
    """FeedConfig overrides for a test about scale, not about the watchdog: a stream gets `wall_s`
    of wall time to be confirmed and to stay silent. A loaded 2-core machine, where the in-process
    simulator and the feed share one loop, took over 5 s to confirm 300 subscriptions; the
    watchdog then cancelled the stream, and the reconnects never caught up."""
    return {"connect_timeout_s": wall_s * speed, "stale_after_s": wall_s * speed}


def feed_config(sim: Any, **overrides: Any) -> FeedConfig:
    values: dict[str, Any] = {
        "endpoint": sim.address,
        "token": sim.token,
        "plaintext": True,
        "mode": "DEMO",
        "ping_delay_ms": 10_000,
        "stale_after_s": 120.0,
        "connect_timeout_s": 300.0,
        "reconcile_interval_s": 600.0,
        "history_candles": 20,
    }
    values.update(overrides)
    return FeedConfig(**values)


class Running:
    """A feed running in a task, with the events it emitted."""

    def __init__(self, feed: Feed) -> None:
        self.feed = feed
        self.events: list[HealthEvent] = []
        feed.add_event_listener(self.events.append)
        self.task = asyncio.create_task(feed.run())

    def states(self) -> list[ConnectionState]:
        return [event.state for event in self.events]

    def uid(self, watch_id: str) -> str:
        inst = self.feed.instrument(watch_id)
        assert inst is not None, watch_id
        return inst.uid

    async def live(self, timeout: float = 10.0) -> None:
        await wait_for(lambda: self.feed.health.state is ConnectionState.LIVE, timeout, "LIVE")

    async def stop(self) -> None:
        await self.feed.close()
        await asyncio.wait_for(self.task, 5)


def closed_mismatch(run: Running, sim: Any, watch_id: str, interval: Interval = Interval.M1) -> str | None:
    """Compares the book's closed candles with the simulator's ground truth; None when equal.

    The window runs from the oldest candle held to the start of the newest closed period (that
    one may have closed moments ago and still await the server's late correction).
    """
    uid = run.uid(watch_id)
    series = run.feed.book.find(SeriesKey(uid, interval))
    if series is None:
        return "no series"
    closed = [c for c in series if c.closed]
    if len(closed) < 3:
        return f"only {len(closed)} closed candles"
    start, end = closed[0].time, closed[-1].time
    truth = {c.time: c for c in sim.history(uid, interval, start, end)}
    held = {c.time: c for c in closed if c.time < end}
    if set(truth) != set(held):
        missing = sorted(set(truth) - set(held))
        extra = sorted(set(held) - set(truth))
        return f"missing {missing[:5]} ({len(missing)}), extra {extra[:5]} ({len(extra)})"
    for t, want in truth.items():
        got = held[t]
        if (got.open, got.high, got.low, got.close, got.volume) != pytest.approx(
            (want.open, want.high, want.low, want.close, want.volume)
        ):
            return f"candle {t} differs: {got} vs {want}"
    return None


async def book_matches(run: Running, sim: Any, watch_id: str, timeout: float = 10.0) -> None:
    """Waits until the closed candles equal the ground truth; fails with the last difference."""
    last: list[str | None] = [None]

    def check() -> bool:
        last[0] = closed_mismatch(run, sim, watch_id)
        return last[0] is None

    try:
        await wait_for(check, timeout, "book to match sim.history")
    except AssertionError:
        raise AssertionError(f"{watch_id}: {last[0]}") from None

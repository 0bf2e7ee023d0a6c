"""Alerts against the simulator (fast clock): an outage while the price crosses a level fires the
alert once, marked offline, with the backfilled candle's time; a restart does not fire it again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from monitor.alerts import AlertEngine, AlertFired, AlertRule, AlertState, make_rule
from monitor.clock import ScaledClock
from monitor.feed.supervisor import Feed
from monitor.market import Candle, Interval, SeriesKey, WatchKey
from tests.feed.feedkit import Running, feed_config, sim_config, wait_for

SBER = WatchKey("SBER_TQBR", Interval.M1)
SPEED = 300.0
"""Sim seconds per wall second: a minute candle every 0.2 s."""


@pytest.fixture
async def sim() -> AsyncIterator[Any]:
    from monitor.sim import SimServer

    server = SimServer(sim_config(), clock=ScaledClock(speed=SPEED))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


class Monitor:
    """One run of the monitor's core: a feed on the sim and an alert engine on the feed."""

    def __init__(self, sim: Any, rules: list[AlertRule], state: Path) -> None:
        self.feed = Feed(config=feed_config(sim, history_candles=10), clock=sim.clock)
        self.engine = AlertEngine(rules, AlertState(state))
        self.engine.attach(self.feed)
        self.fired: list[AlertFired] = []
        self.engine.add_listener(self.fired.append)
        self.feed.watch([SBER])
        self.run = Running(self.feed)

    def key(self) -> SeriesKey:
        return SeriesKey(self.run.uid(SBER.id), SBER.interval)

    async def settled(self) -> None:
        await self.run.live()
        await wait_for(lambda: self.feed.instrument(SBER.id) is not None, 10, "SBER resolved")
        await wait_for(lambda: self.feed.book.series(self.key()).history_loaded, 10, "the history")

    async def stop(self) -> None:
        self.engine.flush()
        await self.run.stop()


def plan(sim: Any, uid: str, now: float, minutes: int) -> tuple[str, float, int] | None:
    """A level the price crosses only inside an outage of `minutes` starting now: (when, level,
    start of the first period that reaches it), from the simulator's deterministic price path."""
    start = int(now) // 60 * 60
    truth = sim.history(uid, Interval.M1, start, start + 60 * minutes, as_of=now + 86_400)
    if len(truth) < minutes:
        return None
    before, inside = truth[0], truth[1 : minutes - 1]  # the outage's periods, closed before it ends
    top, bottom = max(c.high for c in inside), min(c.low for c in inside)
    if top > before.high:
        level = before.high + (top - before.high) / 2
        return f"price above {level}", level, _first(inside, lambda c: c.high >= level)
    if bottom < before.low:
        level = before.low - (before.low - bottom) / 2
        return f"price below {level}", level, _first(inside, lambda c: c.low <= level)
    return None


def _first(candles: list[Candle], hit: Any) -> int:
    return next(c.time for c in candles if hit(c))


async def test_a_crossing_during_an_outage_fires_once_offline_and_not_again_after_a_restart(
    sim: Any, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    first = Monitor(sim, [], state)
    try:
        await first.settled()
        uid = first.key().uid
        found = None
        for minutes in range(4, 12):
            found = plan(sim, uid, sim.clock.now(), minutes)
            if found is not None:
                break
        assert found is not None, "the price stays inside one candle's range for 12 minutes"
        when, level, crossed_at = found
        rule = make_rule(SBER.id, when, Interval.M1, mode="once", rule_id="outage")
        first.engine.set_rules([rule])
        await wait_for(lambda: first.engine.state.of(rule).seen is not None, 10, "a live baseline")
        down_at = sim.clock.now()
        await sim.faults.refuse_connections(60 * minutes)
        await wait_for(lambda: first.feed.health.state.name != "LIVE", 10, "the outage")
        await sim.faults.wait_restored()
        await first.run.live()
        series = first.feed.book.series(first.key())
        await wait_for(lambda: bool(first.fired), 20, "the alert")
        back_at = down_at + 60 * (minutes + 2)
        await wait_for(lambda: (series.last_closed_time() or 0) >= back_at, 20, "two periods after it")
        assert len(first.fired) == 1, first.fired
        fired = first.fired[0]
        assert fired.offline and fired.time == crossed_at and isinstance(fired.price_or_candle, Candle)
        assert fired.price_or_candle.time == crossed_at
        assert fired.value >= level if "above" in when else fired.value <= level
        print(f"alert {when}: {fired.body}, outage {minutes} min from {down_at:.0f}")
    finally:
        await first.stop()
    # The monitor restarted (the same state directory), with a new rule that fires on any trade.
    control = make_rule(SBER.id, "volume above 0.001 x 1", Interval.M1, rule_id="control")
    second = Monitor(sim, [rule, control], state)
    try:
        await second.settled()
        again = second.feed.book.series(second.key())
        closed = again.last_closed_time() or 0
        await wait_for(lambda: (again.last_closed_time() or 0) >= closed + 180, 10, "three live periods")
        status = second.engine.statuses()[0]
        assert [f.rule.id for f in second.fired] == ["control"]
        assert status.fired == 1 and status.armed is False
    finally:
        await second.stop()

"""Network faults at real speed: detection, recovery and TCP connections per outage minute, per fault.

Each condition runs a fresh simulator child (tests/perf/simproc.py), a FaultProxy in front of it
and a feed through the proxy, all at real speed: the channel's reconnect pace is wall time, so only at
speed 1 do the feed's backoff (clock time) and the TCP connections compare. Per condition:

- detection: fault on → health first says anything but LIVE (LAGGING included: what the status
  bar says, tests/netfault/measure.py `state_name`); a latency under the lag bound must stay LIVE;
- recovery: fault off → LIVE, beyond what was left of the feed's backoff delay (budget ≤ 1 s);
- connections per outage minute: TCP connections the proxy accepted during the fault, against the
  attempts the feed's backoff schedule (monitor/feed/backoff.py) allows in as long an outage,
  + 3 (the budget of issue 11; the channel makes no connect of its own, feed/connection.py).

The feed pings every 5 s (the API's shortest delay), so silence is stale after 15 s: with the
default 45 s a blackhole long enough to be seen would take most of the run.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from monitor.feed import FeedConfig
from monitor.feed.lag import LAG_BOUND_S, RECENT_S, SAMPLE_EVERY_S
from monitor.feed.supervisor import Feed
from tests.feed.feedkit import WATCH, Running
from tests.netfault import FaultProxy
from tests.netfault.measure import Timeline, connections_between, feed_attempts, schedule_attempts
from tests.perf.harness import Result
from tests.perf.procs import (
    SIM_TOKEN,
    PerfClock,
    child_main,
    children,
    midnight_utc,
    quiet_logs,
    results_in_child,
    start_sim,
)

CONFIG: dict[str, Any] = {
    "history_candles": 20,
    "ping_delay_ms": 5_000,
    "stale_after_s": 15.0,
    "connect_timeout_s": 10.0,
    "reconcile_interval_s": 60.0,
}
LAG_DETECT_S = 10.0
"""Issue 11's bound for telling a slow link: LAGGING within 10 s at real speed."""
LAG_METER_S = RECENT_S + SAMPLE_EVERY_S + 0.5
"""What the lag meter needs once late data arrives: its window, its sampling pace, a margin."""
DROP_DETECT_S = 1.0
"""A reset connection is an error the moment it happens."""
RECOVERY_S = 1.0
SCHEDULE_SLACK = 3


@dataclass
class Condition:
    """One fault: how it starts, how long it lasts (wall s), what detection is bounded by."""

    name: str
    seconds: float
    detect_budget: float
    outage: bool
    """The link is down (reconnects expected): connections are held to the backoff schedule."""
    detectable: bool = True
    """False for a fault below the lag bound (LAG_BOUND_S): the truth is to stay LIVE."""


@dataclass
class Trial:
    condition: Condition
    fault_at: float
    restore_at: float
    detected_at: float | None
    live_at: float | None
    backoff_left: float
    connections: int
    attempts: int
    states: str
    stream_rate: float
    """Bytes a second the stream carried downstream before the fault."""
    held: int
    """Bytes the proxy held back when the fault ended (latency and throttle: the lag in bytes)."""

    @property
    def outage_s(self) -> float:
        return self.restore_at - self.fault_at


async def _apply(condition: Condition, proxy: FaultProxy) -> None:
    """Switches the fault on and holds it for its time (a reset storm keeps resetting)."""
    name = condition.name
    if name == "blackhole":
        proxy.blackhole()
    elif name == "refuse":
        proxy.refuse()
        proxy.reset()
    elif name.startswith("latency "):
        proxy.set_latency(float(name.removeprefix("latency ").removesuffix("s")))
    elif name == "throttle 300 B/s":
        proxy.set_bandwidth(300)
    if name != "reset storm":
        await asyncio.sleep(condition.seconds)
        return
    end = time.monotonic() + condition.seconds
    while time.monotonic() < end:
        proxy.reset()
        await asyncio.sleep(min(1.0, max(0.0, end - time.monotonic())))


async def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def trial(condition: Condition) -> Trial:
    """One condition on a fresh simulator child and feed: a fresh backoff curve for each."""
    origin = midnight_utc()
    with children() as started:
        _, port = await asyncio.to_thread(start_sim, started, origin=origin)
        with FaultProxy(f"127.0.0.1:{port}") as proxy:
            config = FeedConfig(
                endpoint=proxy.address, token=SIM_TOKEN, plaintext=True, mode="DEMO", **CONFIG
            )
            clock = PerfClock(1.0, origin)
            feed = Feed(config=config, clock=clock)
            timeline = Timeline(feed)
            feed.watch(WATCH)
            run = Running(feed)
            try:
                return await _measure(condition, proxy, run, timeline, clock)
            finally:
                await run.stop()


async def _measure(
    condition: Condition, proxy: FaultProxy, run: Running, timeline: Timeline, clock: PerfClock
) -> Trial:
    if not await _wait(lambda: timeline.now == "LIVE", 30):
        raise TimeoutError(f"{condition.name}: the feed never went LIVE")
    before = proxy.bytes_down
    await asyncio.sleep(2.0)  # the stream's own rate, before the fault
    rate = (proxy.bytes_down - before) / 2.0
    fault_at, fault_clock = time.monotonic(), clock.now()
    await _apply(condition, proxy)
    restore_at, held = time.monotonic(), proxy.buffered
    health = run.feed.health
    retry_at = health.next_retry_at if timeline.now == "RECONNECTING" else None
    backoff_left = 0.0 if retry_at is None else max(0.0, retry_at - clock.now())
    proxy.restore()
    await _wait(lambda: timeline.now == "LIVE", 60)
    detected = timeline.left_live(fault_at)
    if timeline.states(restore_at)[0] == "LIVE":
        live_at: float | None = restore_at  # never left LIVE: nothing to recover from
    elif timeline.now == "LIVE":
        live_at = timeline.live_again(restore_at)
    else:
        live_at = None
    return Trial(
        condition,
        fault_at,
        restore_at,
        detected if detected is not None and detected <= restore_at else None,
        live_at,
        backoff_left,
        connections_between(proxy, fault_at, restore_at),
        feed_attempts(run.events, fault_clock, clock.now()),
        ">".join(timeline.states(fault_at)),
        rate,
        held,
    )


def conditions(quick: bool) -> list[Condition]:
    outage, lag = (5.0, 6.0) if quick else (10.0, 15.0)
    return [
        # Longer than stale_after (15 s), or silence would never be seen.
        Condition("blackhole", 18.0 if quick else 20.0, CONFIG["stale_after_s"] + 2.0, outage=True),
        Condition("refuse", outage, DROP_DETECT_S, outage=True),
        Condition("reset storm", outage, DROP_DETECT_S, outage=True),
        # 2 s is under the lag bound: LIVE is the truth. 8 s is over it; nothing at all arrives for
        # the first 8 s, so the bound counts from then: the latency + the meter's window and pace.
        Condition("latency 2s", lag, math.nan, outage=False, detectable=False),
        Condition("latency 8s", lag, 8.0 + LAG_METER_S, outage=False),
        Condition("throttle 300 B/s", lag, LAG_DETECT_S, outage=False),
    ]


def results(trials: list[Trial]) -> list[Result]:
    out: list[Result] = []
    for t in trials:
        c = t.condition
        detect = math.nan if t.detected_at is None else t.detected_at - t.fault_at
        states: dict[str, float | str] = {
            "states": t.states,
            "stream_B_per_s": round(t.stream_rate),
            "held_B": float(t.held),
        }
        if c.detectable:
            detection = Result(
                f"faults: {c.name} detection", detect, "s", f"<= {c.detect_budget:g} s",
                detect <= c.detect_budget, states,
            )  # fmt: skip
        else:
            detection = Result(
                f"faults: {c.name} stays LIVE", detect, "s", f"not LAGGING (< {LAG_BOUND_S:g} s)",
                math.isnan(detect), states,
            )  # fmt: skip
        out.append(detection)
        to_live = math.nan if t.live_at is None else t.live_at - t.restore_at
        beyond = to_live - t.backoff_left
        times: dict[str, float | str] = {
            "to_live_s": round(to_live, 3),
            "backoff_left_s": round(t.backoff_left, 3),
        }
        out.append(
            Result(
                f"faults: {c.name} recovery",
                beyond,
                "s",
                f"<= backoff + {RECOVERY_S:g} s",
                beyond <= RECOVERY_S,
                times,
            )
        )
        if c.outage:
            allowed = schedule_attempts(t.outage_s)
            per_min = 60.0 / t.outage_s
            rate, budget = t.connections * per_min, (allowed + SCHEDULE_SLACK) * per_min
            counts: dict[str, float | str] = {
                "connections": float(t.connections),
                "outage_s": round(t.outage_s, 1),
                "feed_attempts": float(t.attempts),
                "schedule_attempts": float(allowed),
            }
            out.append(
                Result(
                    f"faults: {c.name} conns/outage min",
                    rate,
                    "/min",
                    f"<= {budget:.0f} (sched {allowed}+{SCHEDULE_SLACK})",
                    rate <= budget,
                    counts,
                )
            )
    return out


async def _main(quick: bool) -> list[Trial]:
    return [await trial(c) for c in conditions(quick)]


def run(quick: bool) -> list[Result]:
    return results_in_child("tests.perf.bench_faults", quick, 300)


def measure(quick: bool) -> list[Result]:
    quiet_logs()
    trials = asyncio.run(_main(quick))
    return results(trials)


if __name__ == "__main__":
    child_main(measure)

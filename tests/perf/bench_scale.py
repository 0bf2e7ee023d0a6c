"""Scale budget: 600 series over 400 instruments, cold start to every series LIVE, and its unary calls."""

from __future__ import annotations

import asyncio
import time

from monitor.feed import FeedConfig
from monitor.feed.supervisor import Feed
from monitor.sim.catalogue import CATALOGUE, Catalogue
from monitor.sim.universe import generate
from tests.feed.test_scale import all_live, scale_watch
from tests.perf.harness import Result, median
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
from tests.perf.simcontrol import SimControl

BUDGET_S = 30.0
"""Seconds from a cold start (new simulator process, new feed) to all 600 series LIVE, at speed 1:
the rate limits the feed meets are the real per-minute ones."""
SEED = 1  # the simulator's default: the child serves the catalogue this process generates


async def once(history: int) -> tuple[float, dict[str, int], int]:
    """(seconds to all LIVE, the simulator's call counters, streams the feed holds)."""
    with children() as started:
        child, port = start_sim(started, control=True, lifetime=600)
        control = SimControl(child, timeout=30)
        watch = scale_watch(Catalogue((*CATALOGUE, *generate(SEED, taken=CATALOGUE))))
        config = FeedConfig(endpoint=f"127.0.0.1:{port}", token=SIM_TOKEN, plaintext=True, mode="DEMO",
                            history_candles=history, reconcile_interval_s=3600.0)  # fmt: skip
        feed = Feed(config=config, clock=PerfClock(1.0, midnight_utc()))
        feed.watch(watch)
        start = time.perf_counter()
        task = asyncio.create_task(feed.run())
        try:
            deadline = start + 300
            while not all_live(feed, watch):
                if time.perf_counter() > deadline:
                    raise TimeoutError("600 series not LIVE within 300 s")
                await asyncio.sleep(0.01)
            elapsed = time.perf_counter() - start
            return elapsed, await control.stats(), feed.health.streams
        finally:
            await feed.close()
            await asyncio.gather(task, return_exceptions=True)


async def _main(quick: bool) -> list[tuple[float, dict[str, int], int]]:
    runs = []
    for history in (0, 200):  # without backfill, then with the default 200 candles of history
        for _ in range(1 if quick else 3):
            runs.append(await once(history))
    return runs


def run(quick: bool) -> list[Result]:
    return results_in_child("tests.perf.bench_scale", quick, 1800)


def measure(quick: bool) -> list[Result]:
    quiet_logs()
    runs = asyncio.run(_main(quick))
    half = len(runs) // 2
    results = []
    for label, group in (("no history", runs[:half]), ("200 candles history", runs[half:])):
        seconds = median([r[0] for r in group])
        stats = group[0][1]
        results.append(
            Result(
                f"scale: 600 series LIVE ({label})",
                seconds,
                "s",
                f"<= {BUDGET_S:g} s",
                seconds <= BUDGET_S,
                {
                    "unary_calls": float(stats["unary_calls"]),
                    "lookups": float(stats["lookups"]),
                    "stream_calls": float(stats["stream_calls"]),
                    "subscribe_requests": float(stats["subscribe_requests"]),
                    "streams": float(group[0][2]),
                    "runs": float(len(group)),
                },
            )
        )
    return results


if __name__ == "__main__":
    child_main(measure)

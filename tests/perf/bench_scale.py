"""Scale budget: 600 series over 400 instruments, cold start to every series LIVE, and its unary calls."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from monitor.feed import FeedConfig
from monitor.feed.supervisor import Feed
from monitor.market import SeriesKey, WatchKey
from monitor.sim import SimConfig
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
"""Seconds from a cold start (new simulator process, new feed) to all 600 series LIVE, at speed 1,
beyond what the InstrumentsService limit itself costs (`limit_wait_s`): the feed meets the real
per-minute limits, and 400 look-ups at 200 a minute cannot all be answered in the first minute.
Resolving a big watchlist with the bulk listings (and the store) is issue 16's."""
LOOKUPS_PER_MINUTE = SimConfig().instruments_limit_per_minute
SEED = 1  # the simulator's default: the child serves the catalogue this process generates


def history_loaded(feed: Feed, watch: tuple[WatchKey, ...], history: int) -> bool:
    """Every series holds at least `history` candles (the backfill is done)."""
    for key in watch:
        entry = feed.health.watch.get(key)
        series = (
            None if entry is None or entry.uid is None else feed.book.find(SeriesKey(entry.uid, key.interval))
        )
        if series is None or len(series) < history:
            return False
    return True


async def wait(condition: Callable[[], bool], deadline: float, what: str) -> None:
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what} not within the deadline")
        await asyncio.sleep(0.01)


async def once(history: int) -> Trial:
    """One cold start: a new simulator process and a new feed."""
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
            await wait(lambda: all_live(feed, watch), start + 300, "600 series LIVE")
            live, live_stats = time.perf_counter() - start, await control.stats()
            await wait(lambda: history_loaded(feed, watch, history), start + 600, "history")
            loaded = time.perf_counter() - start
            return Trial(live, live_stats, loaded, await control.stats(), feed.health.streams)
        finally:
            await feed.close()
            await asyncio.gather(task, return_exceptions=True)


@dataclass
class Trial:
    """Seconds from the start to all LIVE and to the history loaded, with the call counters then."""

    live: float
    live_stats: dict[str, int]
    loaded: float
    loaded_stats: dict[str, int]
    streams: int


async def _main(quick: bool) -> list[Trial]:
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
        seconds, first = median([r.live for r in group]), group[0]
        detail: dict[str, float | str] = {
            "unary_calls": float(first.live_stats["unary_calls"]),
            "lookups": float(first.live_stats["lookups"]),
            "stream_calls": float(first.live_stats["stream_calls"]),
            "subscribe_requests": float(first.live_stats["subscribe_requests"]),
            "streams": float(first.streams),
            "runs": float(len(group)),
        }
        if label != "no history":
            detail["loaded_s"] = median([r.loaded for r in group])
            detail["unary_calls_loaded"] = float(first.loaded_stats["unary_calls"])
        # The windows are whole minutes: each window after the first may cost up to a minute.
        limit_wait = 60.0 * (math.ceil(first.live_stats["lookups"] / LOOKUPS_PER_MINUTE) - 1)
        detail["limit_wait_s"] = limit_wait
        budget = limit_wait + BUDGET_S
        ok = seconds <= budget
        results.append(
            Result(f"scale: 600 series LIVE ({label})", seconds, "s", f"<= {budget:g} s", ok, detail)
        )
    return results


if __name__ == "__main__":
    child_main(measure)

"""Cold vs warm start of 9 series (a 3x3 layout): time to every series' history in the book, and calls."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from monitor.clock import ScaledClock
from monitor.feed.config import FeedConfig
from monitor.feed.supervisor import Feed
from monitor.feed.testing import MemoryCache
from monitor.market import Interval, SeriesKey, WatchKey
from monitor.sim import SimConfig, SimServer
from tests.perf.harness import Result, median
from tests.perf.procs import child_main, quiet_logs, results_in_child

SERIES = 9
HISTORY = 200
BREAK_S = 2.0
"""Wall (and sim) seconds between a run's stop and the next start: a short break."""
TIMEOUT_S = 60.0
INSTRUMENT_CALLS = ("GetInstrumentBy", "ShareBy", "Shares", "Etfs", "Bonds", "Futures", "Currencies")


@dataclass
class Start:
    """One start: wall seconds to the first candles and to the full history of every series, with
    the unary calls the server counted until then."""

    drawn_s: float
    loaded_s: float
    unary: int
    candles_calls: int
    instrument_calls: int


async def _wait(condition: Callable[[], bool], deadline: float, what: str) -> None:
    while not condition():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


async def _start(sim: SimServer, clock: ScaledClock, cache: MemoryCache, watch: list[WatchKey]) -> Start:
    config = FeedConfig(endpoint=sim.address, token=sim.token, plaintext=True, mode="DEMO",
                        history_candles=HISTORY, reconcile_interval_s=3600.0)  # fmt: skip
    calls = sim.stats.calls.copy()
    feed = Feed(config=config, clock=clock, cache=cache)
    feed.watch(watch)

    def series() -> list[SeriesKey] | None:
        found = [feed.instrument(wk.id) for wk in watch]
        return [SeriesKey(i.uid, wk.interval) for i, wk in zip(found, watch, strict=True) if i is not None]

    def drawn() -> bool:
        keys = series()
        return keys is not None and len(keys) == len(watch) and all(len(feed.book.series(k)) for k in keys)

    def loaded() -> bool:
        keys = series()
        return (
            keys is not None
            and len(keys) == len(watch)
            and all(feed.book.series(k).history_loaded for k in keys)
        )

    start = time.perf_counter()
    task = asyncio.create_task(feed.run())
    try:
        await _wait(drawn, start + TIMEOUT_S, "candles in every series")
        drawn_s = time.perf_counter() - start
        await _wait(loaded, start + TIMEOUT_S, "every series' history")
        loaded_s = time.perf_counter() - start
        used = sim.stats.calls - calls
        return Start(drawn_s, loaded_s, sum(used.values()), used["GetCandles"],
                     sum(used[name] for name in INSTRUMENT_CALLS))  # fmt: skip
    finally:
        await feed.close()
        await asyncio.gather(task, return_exceptions=True)


async def _main(quick: bool) -> list[tuple[Start, Start]]:
    clock = ScaledClock(speed=1.0)
    async with SimServer(SimConfig(seed=1, speed=1.0, sessions=False), clock=clock) as sim:
        shares = [i for i in sim.catalogue if i.kind == "share"][:SERIES]
        watch = [WatchKey(i.symbol, Interval.M1) for i in shares]
        pairs = []
        for _ in range(1 if quick else 3):
            cache = MemoryCache()
            cold = await _start(sim, clock, cache, watch)
            await asyncio.sleep(BREAK_S)
            warm = await _start(sim, clock, cache, watch)
            pairs.append((cold, warm))
        return pairs


def run(quick: bool) -> list[Result]:
    return results_in_child("tests.perf.bench_warm_start", quick, 300)


def measure(quick: bool) -> list[Result]:
    quiet_logs()
    pairs = asyncio.run(_main(quick))
    cold = [c for c, _ in pairs]
    warm = [w for _, w in pairs]
    results = []
    for label, attr in (("first candles", "drawn_s"), ("history loaded", "loaded_s")):
        cold_s, warm_s = median([getattr(s, attr) for s in cold]), median([getattr(s, attr) for s in warm])
        # The warm start draws from the cache before any call: never slower than the cold one.
        detail: dict[str, float | str] = {"cold_s": cold_s, "warm_s": warm_s, "runs": float(len(pairs))}
        name = f"warm_start: {label} (warm/cold)"
        results.append(Result(name, warm_s / cold_s, "ratio", "<= 1", warm_s <= cold_s, detail))
    c, w = cold[0], warm[0]
    detail = {"cold_unary": float(c.unary), "warm_unary": float(w.unary),
              "cold_GetCandles": float(c.candles_calls), "warm_GetCandles": float(w.candles_calls),
              "cold_instruments": float(c.instrument_calls), "warm_instruments": float(w.instrument_calls),
              "series": float(SERIES)}  # fmt: skip
    # At most one history call per series once warm, and no instrument call.
    ok = w.candles_calls <= SERIES and w.instrument_calls == 0 and w.unary <= c.unary
    results.append(Result("warm_start: unary calls (warm)", float(w.unary), "calls",
                          f"<= cold {c.unary}, 0 look-ups", ok, detail))  # fmt: skip
    return results


if __name__ == "__main__":
    child_main(measure)

"""GetLastPrices without ids (every tradable instrument, ~870): time and peak RSS growth of the call
against the per-id call × N and against building one day of minute candles × N (the old way)."""

from __future__ import annotations

import asyncio
import gc
import resource
import time

from tests.perf.harness import Result
from tests.perf.procs import child_main, quiet_logs, results_in_child

START = 1_764_000_000.0 + 37.25  # a Monday afternoon, part-way through a minute
DAY = 86_400
FAR = 1_000  # days between the measured instants: more than the slowest noise layer's 2 × 256 days
COLD_BUDGET = 1.2
"""The cold no-ids call against N cold per-id calls: both make each instrument's day shape once, so
all at once is no slower than one by one (~0.7-0.95 measured; the margin is a loaded machine's)."""
OLD_BUDGET = 0.6
"""Against building a day of minute candles per instrument, what the call did before (~0.35-0.45)."""
RSS_BUDGET = 0.05
"""Peak RSS growth against the days built × N: a twentieth at most (it was ~850 MB)."""


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


async def _measure(quick: bool) -> dict[str, float]:
    import psutil

    from monitor.feed.testing import ManualClock
    from monitor.pb import marketdata_pb2
    from monitor.sim import SimConfig, SimServer
    from tests.sim.helpers import Client

    process = psutil.Process()
    clock = ManualClock(START)
    out: dict[str, float] = {}
    async with SimServer(SimConfig(), clock=clock) as sim:
        client = Client(sim)
        md, meta = client.md, client.metadata
        items = [i for i in sim.state.catalogue.items if i.api_tradable]
        first = marketdata_pb2.GetLastPricesRequest(instrument_id=[items[0].uid])
        await md.GetLastPrices(first, metadata=meta)  # grpc and the catalogue are loaded before measuring
        gc.collect()
        before = process.memory_info().rss
        started = time.perf_counter()
        answer = await md.GetLastPrices(marketdata_pb2.GetLastPricesRequest(), metadata=meta)
        out["cold_s"] = time.perf_counter() - started
        out["peak_growth_mb"] = max(0, _peak_bytes() - before) / 2**20
        n = out["n"] = float(len(answer.last_prices))
        started = time.perf_counter()
        await md.GetLastPrices(marketdata_pb2.GetLastPricesRequest(), metadata=meta)
        out["warm_s"] = time.perf_counter() - started
        # Reference 1: per-id calls, × N, on a day so far off that no cache holds any of its noise.
        clock.advance(FAR * DAY)
        sample = items[:: max(1, len(items) // (20 if quick else 60))]
        started = time.perf_counter()
        for item in sample:
            one = marketdata_pb2.GetLastPricesRequest(instrument_id=[item.uid])
            await md.GetLastPrices(one, metadata=meta)
        out["per_id_x_n_s"] = (time.perf_counter() - started) / len(sample) * n
        # Reference 2: a day of minute candles per instrument, as the call used to build, × N.
        market, day = sim.state.market, int(clock.now()) // DAY + FAR
        days = sample[: 10 if quick else 25]
        gc.collect()
        before = process.memory_info().rss
        started = time.perf_counter()
        for item in days:
            market.day_minutes(item.uid, day)
        out["day_x_n_s"] = (time.perf_counter() - started) / len(days) * n
        out["day_x_n_mb"] = max(0, process.memory_info().rss - before) / len(days) * n / 2**20
        await client.close()
    return out


def measure(quick: bool) -> list[Result]:
    quiet_logs()
    f = asyncio.run(_measure(quick))
    ratio, old = f["cold_s"] / f["per_id_x_n_s"], f["cold_s"] / f["day_x_n_s"]
    rss = f["peak_growth_mb"] / f["day_x_n_mb"] if f["day_x_n_mb"] > 0 else float("inf")
    cold = {"cold_s": f["cold_s"], "warm_s": f["warm_s"], "n": f["n"]}
    return [
        Result("lastprices: no ids cold / per-id × N", ratio, "ratio", f"<= {COLD_BUDGET:g}",
               ratio <= COLD_BUDGET, {**cold, "per_id_x_n_s": f["per_id_x_n_s"]}),
        Result("lastprices: no ids cold / day built × N", old, "ratio", f"<= {OLD_BUDGET:g}",
               old <= OLD_BUDGET, {**cold, "day_x_n_s": f["day_x_n_s"]}),
        Result("lastprices: peak RSS growth / days × N", rss, "ratio", f"<= {RSS_BUDGET:g}",
               rss <= RSS_BUDGET, {"peak_growth_mb": f["peak_growth_mb"], "day_x_n_mb": f["day_x_n_mb"]}),
    ]  # fmt: skip


def run(quick: bool) -> list[Result]:
    return results_in_child("tests.perf.bench_lastprices", quick, 300)


if __name__ == "__main__":
    child_main(measure)

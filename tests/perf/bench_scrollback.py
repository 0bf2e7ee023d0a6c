"""Scroll-back budget: paging a 20,000-candle series back to its oldest candle; RSS per held candle."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from tests.perf.harness import Result, median, percentile
from tests.perf.procs import Child, children

CANDLES = 20_000
SIZE = (180, 54)
FRAME_BUDGET_MS = 16.0
RSS_BUDGET_B = 1_000.0
"""Bytes of RSS per held candle: measured ~500 (a Candle tuple with its floats ~330, its dict and
list slots, the book's time index). At the default cap of 50,000 a series then stays under 50 MB
and nine panels under 450 MB, which is what `feed.max_candles` exists to bound."""
WATCHLIST = """\
active = "bench"

[[lists]]
name = "bench"
layout = "1"
interval = "1m"
instruments = ["SBER_TQBR"]
"""


def reference_ms() -> float:
    """Thread CPU time (ms, median of 7) of a fixed pure-Python workload, in the child that measures
    the frames: how fast this machine runs Python right now (load, frequency, shared caches), so the
    frame figures can be read against it. It touches no product code, so a change to the chart
    never moves it."""
    times = []
    for _ in range(7):
        start = time.thread_time()
        rows = [[str(i % 97) for i in range(row, row + 180)] for row in range(54)]
        keys = {("".join(cells), tuple(map(len, cells))): n for n, cells in enumerate(rows * 4)}
        sorted(keys, reverse=True)
        times.append((time.thread_time() - start) * 1000)
    return median(times)


def rss() -> int:
    import psutil

    gc.collect()
    return int(psutil.Process().memory_info().rss)


async def measure(quick: bool, gc_policy: bool = True) -> dict[str, float | list[float]]:
    """Frame times (ms) of every key that pages, steps or zooms back through the series.

    Without `gc_policy` the app's GcPolicy never freezes: the same run's reference for what it buys.
    """
    from monitor.feed.testing import FakeFeed, ManualClock, wave_candles
    from monitor.market import Interval
    from monitor.settings import Settings
    from monitor.ui.app import make_app
    from monitor.ui.gcpolicy import CHECK_EVERY_S, IDLE_AFTER_S, GcPolicy
    from monitor.watchlist import load_watchlists
    from tests.perf.procs import quiet_logs

    quiet_logs()
    reference = reference_ms()
    clock = ManualClock(1_764_061_200.0)
    feed = FakeFeed(clock=clock)
    now = Interval.M1.start_of(int(clock.now()))
    before = rss()
    candles = wave_candles(now - (CANDLES - 1) * 60, Interval.M1, CANDLES, 300.0)
    feed.push_candles("SBER_TQBR", Interval.M1, candles)
    del candles
    held = rss() - before
    with TemporaryDirectory(prefix="monitor-scroll-") as tmp:
        path = Path(tmp) / "watchlist.toml"
        path.write_text(WATCHLIST, encoding="utf-8")
        app = make_app(Settings(), load_watchlists(path), path, feed, clock, watch_file=False)
        if not gc_policy:
            app.gc_policy = GcPolicy(step=sys.maxsize)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.pause()
            panel = app.panel_widgets[0]

            walls: list[float] = []
            full_gc = [0]
            """Gen-2 collections so far: a frame that ran one is told apart (it scales with what
            the process holds, not with the frame's own work)."""
            collected: list[bool] = []

            def count_gc(phase: str, info: dict[str, int]) -> None:
                if phase == "start" and info["generation"] == 2:
                    full_gc[0] += 1

            gc.callbacks.append(count_gc)

            async def frame(action: str, *args: int) -> float:
                """One key's work: the action (it redraws the chart) and every line of the panel.

                Timed in this thread's CPU time: the machine's other processes (benchmarks share
                two cores) must not count as our frame; the wall time is kept beside it. Then the
                event loop runs once, as between two keys in the app: its timers (the GC policy's
                full passes among them) run there, outside the frame.
                """
                start, wall, collections = time.thread_time(), time.perf_counter(), full_gc[0]
                getattr(app, f"action_{action}")(*args)
                for y in range(panel.size.height):
                    panel.render_line(y)
                walls.append((time.perf_counter() - wall) * 1000)
                collected.append(full_gc[0] != collections)
                spent = (time.thread_time() - start) * 1000
                await asyncio.sleep(0)
                return spent

            async def pause() -> None:
                """The user stops for a moment (after paging back): the policy's idle pass runs."""
                passes = app.gc_policy.full_passes
                await asyncio.sleep(IDLE_AFTER_S + 2 * CHECK_EVERY_S)
                idle_passes[0] += app.gc_policy.full_passes - passes

            idle_passes = [0]

            live = []
            for step in range(50 if quick else 200):
                forming = wave_candles(now, Interval.M1, 1, 300.0 + step * 0.01, seed=step)
                start = time.thread_time()
                feed.push_candles("SBER_TQBR", Interval.M1, forming)
                app.refresh_now()
                for y in range(panel.size.height):
                    panel.render_line(y)
                live.append((time.thread_time() - start) * 1000)
            frames = [await frame("cursor", -1)]
            series = feed.view(app.model.panels[0]).series  # type: ignore[arg-type]
            assert series is not None
            while app.model.charts.get(0, app.model.panels[0]).cursor != next(iter(series)).time:
                frames.append(await frame("page", -1))
            await pause()
            frames.append(await frame("live"))
            frames += [await frame("cursor", -1) for _ in range(300 if quick else 1_000)]
            frames.append(await frame("live"))
            frames += [await frame("zoom", 1) for _ in range(4)]
            frames.append(await frame("cursor", -1))
            for _ in range(200):
                frames.append(await frame("page", -1))
                if app.model.charts.get(0, app.model.panels[0]).cursor == next(iter(series)).time:
                    break
            frames.append(await frame("oldest"))
            frames.append(await frame("live"))
            await pause()
            gc.callbacks.remove(count_gc)
    # The exact bytes the book keeps per candle (RSS moves by whole arenas): a second series.
    tracemalloc.start()
    feed.push_candles(
        "GAZP_TQBR", Interval.M1, wave_candles(now - (CANDLES - 1) * 60, Interval.M1, CANDLES, 9.0)
    )
    traced = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    without_gc = [ms for ms, full in zip(frames, collected, strict=True) if not full]
    return {
        "frames": frames,
        "walls": walls,
        "live": live,
        "rss_per_candle": held / CANDLES,
        "traced_per_candle": traced / CANDLES,
        "max_without_full_gc": max(without_gc, default=0.0),
        "full_gc_frames": float(sum(collected)),
        "full_gc_total": float(full_gc[0]),
        "policy_full_passes": float(app.gc_policy.full_passes),
        "idle_passes": float(idle_passes[0]),
        "reference_ms": reference,
    }


def child_stats(quick: bool, *extra: str) -> dict[str, Any]:
    with children() as started:
        # A fresh process: the RSS delta must not carry what other benchmarks allocated.
        child = Child(
            ["-m", "tests.perf.bench_scrollback", "--child", *(["--quick"] if quick else []), *extra]
        )
        started.append(child)
        stats: dict[str, Any] = json.loads(child.expect("RESULT", 300))
        child.stop()
    return stats


def run(quick: bool) -> list[Result]:
    load_before = os.getloadavg()[0]
    stats = child_stats(quick)
    reference = child_stats(quick, "--no-gc-policy")
    load_after = os.getloadavg()[0]
    frames, live = stats["frames"], stats["live"]
    worst = max(frames)
    per_candle = stats["rss_per_candle"]
    return [
        Result(
            "scrollback: slowest frame (CPU)",
            worst,
            "ms",
            f"<= {FRAME_BUDGET_MS:.0f} ms",
            worst <= FRAME_BUDGET_MS,
            {
                # The machine while it ran (other processes share its two cores) and the same
                # child's speed on a fixed workload: read the absolute frame times against these.
                "load_1m_before": load_before,
                "load_1m_after": load_after,
                "reference_ms": stats["reference_ms"],
                "worst_over_reference": worst / stats["reference_ms"],
                "p99_ms": percentile(frames, 99),
                "wall_p99_ms": percentile(stats["walls"], 99),
                "wall_max_ms": max(stats["walls"]),
                "p50_ms": median(frames),
                "frames": float(len(frames)),
                "max_no_gen2_gc_ms": stats["max_without_full_gc"],
                "gen2_gc_frames": stats["full_gc_frames"],
                # Full passes in the run (frames or between them) and those the policy ran itself.
                "gen2_gc_total": stats["full_gc_total"],
                "policy_passes": stats["policy_full_passes"],
                "idle_passes": stats["idle_passes"],
                "live_frame_p50_ms": median(live),
                "live_frame_max_ms": max(live),
                "no_gc_policy_max_ms": max(reference["frames"]),
                "no_gc_policy_p99_ms": percentile(reference["frames"], 99),
                "no_gc_policy_gen2_gc_frames": reference["full_gc_frames"],
                "candles": float(CANDLES),
            },
        ),
        Result(
            "scrollback: RSS per held candle",
            per_candle,
            "bytes",
            f"<= {RSS_BUDGET_B:,.0f} B",
            per_candle <= RSS_BUDGET_B,
            {"traced_bytes_per_candle": stats["traced_per_candle"], "candles": float(CANDLES)},
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", action="store_true", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-gc-policy", action="store_true", help="the reference: the app never freezes")
    args = parser.parse_args()
    print("RESULT " + json.dumps(asyncio.run(measure(args.quick, not args.no_gc_policy))), flush=True)


if __name__ == "__main__":
    main()

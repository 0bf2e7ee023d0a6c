"""Latency budgets: simulator send → panel repainted, key press → repaint and chart key (cursor,
pan) → repainted panel, at ~1,000 msg/s."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from monitor.market import Interval
from monitor.sim.catalogue import Catalogue
from tests.perf.bench_ui_cpu import write_watchlist
from tests.perf.harness import Result, median, percentile
from tests.perf.procs import Child, child_env, children, midnight_utc, start_sim

SPEED = 8.0
"""50 subscriptions × one forming update per 0.3 sim s × speed 8 ≈ 1,000 candle messages a second
(the sim skips updates whose shape did not change: speed 6 gave ~750)."""
SIZE = "180x54"
KEY_EVERY_S = 0.2
MIN_RATE = 800.0
"""Messages a second the app must be receiving (3 s in a row) before the window starts."""


def watch_entries() -> list[str]:
    """50 series: the catalogue has 16 instruments, so each on 1m, 5m and 15m (48) plus two on 1h."""
    items = Catalogue().items
    series = [(i.instrument.symbol, iv) for iv in (Interval.M1, Interval.M5, Interval.M15) for i in items]
    series += [(i.instrument.symbol, Interval.H1) for i in items[:2]]
    return [f'{{ id = "{symbol}", interval = "{iv.code}" }}' for symbol, iv in series[:50]]


def measure(seconds: float, chart_keys: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="monitor-perf-") as tmp, children() as started:
        watchlist = Path(tmp) / "watchlist.toml"
        write_watchlist(watchlist, watch_entries(), "3x3")
        origin = midnight_utc()
        _, port = start_sim(started, speed=SPEED, origin=origin, stamp=True)
        env = child_env(XDG_CONFIG_HOME=os.path.join(tmp, "c"), XDG_STATE_HOME=os.path.join(tmp, "s"))
        args = ["-m", "tests.perf.appchild", "--port", str(port), "--watchlist", str(watchlist)]
        args += ["--speed", str(SPEED), "--origin", str(origin), "--seconds", str(seconds), "--size", SIZE]
        args += ["--latency", "--key-every", str(KEY_EVERY_S), "--min-rate", str(MIN_RATE)]
        args += ["--chart-keys"] if chart_keys else []
        app = Child(args, env)
        started.append(app)
        app.expect("READY", 120)
        stats: dict[str, Any] = json.loads(app.expect("STATS", seconds + 120))
    return stats


def run(quick: bool) -> list[Result]:
    stats = measure(15.0 if quick else 60.0)
    candle_ms = [s * 1000 for s in stats["candle"]]
    client_ms = [s * 1000 for s in stats["client"]]
    key_ms = [s * 1000 for s in stats["keys"]]
    if not candle_ms or not key_ms:
        raise RuntimeError(f"no latency samples: {len(candle_ms)} candles, {len(key_ms)} keys")
    p99, key_p99 = percentile(candle_ms, 99), percentile(key_ms, 99)
    chart_ms = [s * 1000 for s in measure(10.0 if quick else 30.0, chart_keys=True)["keys"]]
    if not chart_ms:
        raise RuntimeError("no chart key samples")
    chart_p99 = percentile(chart_ms, 99)
    return [
        Result(
            "latency: send → repaint p99",
            p99,
            "ms",
            "<= 250 ms",
            p99 <= 250.0,
            {
                "p50_ms": median(candle_ms),
                "client_p99_ms": percentile(client_ms, 99),
                "msg_s": stats["messages_per_s"],
                "samples": float(len(candle_ms)),
                "panels": float(stats["panels"]),
                "warmup_s": stats["warmup_s"],
            },
        ),
        Result(
            "latency: key → repaint p99",
            key_p99,
            "ms",
            "<= 100 ms",
            key_p99 <= 100.0,
            {"p50_ms": median(key_ms), "presses": float(len(key_ms))},
        ),
        Result(
            "latency: chart key → repaint p99",
            chart_p99,
            "ms",
            "<= 50 ms",
            chart_p99 <= 50.0,
            # The list key's figure of the run above is the reference: a chart key redraws a panel.
            {"p50_ms": median(chart_ms), "presses": float(len(chart_ms)), "list_key_p99_ms": key_p99},
        ),
    ]

"""UI CPU budget: the whole app process (feed + UI) with 4 live panels, and with the market closed."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from monitor.sim.catalogue import Catalogue
from tests.perf.harness import Result
from tests.perf.procs import Child, child_env, children, midnight_utc, start_sim, sunday_noon_offset

LIVE_SPEED = 3.0
"""The sim sends a forming update per subscription at most every 0.3 sim s: speed 3 gives 10/s."""
SIZE = "160x48"


def write_watchlist(path: Path, entries: list[str], layout: str) -> None:
    path.write_text(f'[[lists]]\nname = "perf"\nlayout = "{layout}"\ninstruments = [{", ".join(entries)}]\n')


def app_cpu(
    *, seconds: float, speed: float, origin: float, offset: float, sessions: bool
) -> tuple[float, dict[str, Any]]:
    """Percent of one core the app process used over `seconds`, and what the app counted meanwhile."""
    with tempfile.TemporaryDirectory(prefix="monitor-perf-") as tmp, children() as started:
        watchlist = Path(tmp) / "watchlist.toml"
        write_watchlist(watchlist, [f'"{i.instrument.symbol}"' for i in Catalogue().items[:4]], "2x2")
        # The simulator is a separate process: its CPU is not the app's.
        _, port = start_sim(started, speed=speed, origin=origin, offset=offset, sessions=sessions)
        env = child_env(XDG_CONFIG_HOME=os.path.join(tmp, "c"), XDG_STATE_HOME=os.path.join(tmp, "s"))
        args = ["-m", "tests.perf.appchild", "--port", str(port), "--watchlist", str(watchlist)]
        args += ["--speed", str(speed), "--origin", str(origin), "--offset", str(offset)]
        args += ["--seconds", str(seconds + 2), "--size", SIZE]
        app = Child(args, env)
        started.append(app)
        app.expect("READY", 90)
        process = psutil.Process(app.pid)
        before, start = process.cpu_times(), time.perf_counter()
        time.sleep(seconds)
        after, wall = process.cpu_times(), time.perf_counter() - start
        stats = json.loads(app.expect("STATS", 30))
    used = (after.user - before.user) + (after.system - before.system)
    return used / wall * 100, stats


def run(quick: bool) -> list[Result]:
    seconds = 15.0 if quick else 60.0
    live, stats = app_cpu(
        seconds=seconds, speed=LIVE_SPEED, origin=midnight_utc(), offset=0.0, sessions=False
    )
    # Trading hours on, and the clock moved to a Sunday noon: only pings (and the status clock) move.
    closed, quiet = app_cpu(
        seconds=seconds, speed=1.0, origin=midnight_utc(), offset=sunday_noon_offset(), sessions=True
    )
    return [
        Result(
            "ui cpu: 4 live panels",
            live,
            "% core",
            "<= 10 %",
            live <= 10.0,
            {
                "panel_upd_s": stats["panel_updates_per_s"],
                "msg_s": stats["messages_per_s"],
                "chart_renders_s": stats["chart_renders_per_s"],
                "window_s": seconds,
            },
        ),
        Result(
            "ui cpu: market closed",
            closed,
            "% core",
            "<= 1 %",
            closed <= 1.0,
            {
                "msg_s": quiet["messages_per_s"],
                "chart_renders_s": quiet["chart_renders_per_s"],
                "window_s": seconds,
            },
        ),
    ]

"""The real app, headless, on the real Feed against a simulator child: a benchmark child process.

Prints `READY` once every visible panel is LIVE with candles, then `STATS {json}` after `--seconds`
and exits. With `--latency` it hooks (in this process only) the feed's receive handler, the
panels' chart rebuild and the app's frame output to time send → repaint and key → repaint.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from monitor.feed import ConnectionState, Feed, FeedConfig, WatchState
from monitor.market import Candle, SeriesKey
from monitor.pb import marketdata_pb2 as md
from monitor.settings import Settings
from monitor.ui.app import MonitorApp, make_app
from monitor.ui.views import PanelView
from monitor.ui.widgets import CandlePanel
from monitor.watchlist import load_watchlists
from tests.perf.procs import SIM_TOKEN, PerfClock, quiet_logs

CHART_RENDERS = [0]
"""Charts the panels rebuilt, counted by wrapping CandlePanel._build_chart (see count_chart_renders)."""
READY_BADGES = ("LIVE", "CLOSED")  # CLOSED: the market-closed run, where silence is expected
KEYS = ("down", "up")  # alternating, so the selection always moves and the sidebar always repaints
CHART_KEYS = ("left", "left", "shift+left", "shift+right", "end")
"""Cursor on, one back, a page back (a pan), a page forward, live: each one changes the chart."""


class Probe:
    """Send → repaint and key → repaint timings, gathered by wrapping three methods."""

    def __init__(self) -> None:
        self.on = False
        self.visible: set[SeriesKey] = set()
        self.sent_at = 0.0
        self.pending: dict[SeriesKey, list[tuple[float, float]]] = {}
        self.built: list[tuple[float, float]] = []
        self.key_at: float | None = None
        self.key_ran = False
        self.candle: list[float] = []  # send → frame out, seconds
        self.client: list[float] = []  # arrival → frame out, seconds
        self.keys: list[float] = []

    def install(self, feed: Feed, clock: PerfClock) -> None:
        receiver = feed._receiver
        sink = receiver.on_candle

        def probe(candle: md.Candle, now: float) -> None:
            self.sent_at = clock.wall(candle.last_trade_ts.ToNanoseconds() / 1e9)
            sink(candle, now)

        # An instance attribute: each stream session binds `receiver.on_candle` once, as the
        # callable it hands every streamed candle to, so it finds this one.
        receiver.on_candle = probe  # type: ignore[method-assign, assignment]
        feed.add_candle_listener(self.on_candle)
        build = CandlePanel._build_chart

        def build_chart(panel: CandlePanel, view: PanelView | None, width: int, height: int) -> Any:
            strips = build(panel, view, width, height)
            key = view.series.key if view is not None and view.series is not None else None
            if key is not None and key in self.pending:
                # Single-threaded: every update that reached the book so far is in this chart.
                self.built += self.pending.pop(key)
            return strips

        CandlePanel._build_chart = build_chart  # type: ignore[method-assign,assignment]
        display = MonitorApp._display

        def display_frame(app: MonitorApp, screen: Any, renderable: Any) -> None:
            display(app, screen, renderable)
            if renderable is None:
                return
            # The frame is composed (render_line ran for every dirty line): the repaint is done.
            now = time.time()
            for sent, arrived in self.built:
                self.candle.append(now - sent)
                self.client.append(now - arrived)
            self.built.clear()
            if self.key_at is not None and self.key_ran:
                self.keys.append(now - self.key_at)
                self.key_at, self.key_ran = None, False

        MonitorApp._display = display_frame  # type: ignore[method-assign,assignment]
        move = MonitorApp.action_move

        def action_move(app: MonitorApp, step: int) -> None:
            move(app, step)
            self.key_ran = self.key_at is not None

        MonitorApp.action_move = action_move  # type: ignore[method-assign,assignment]
        change_chart = MonitorApp._change_chart

        def chart_key(app: MonitorApp, *args: Any) -> None:
            change_chart(app, *args)
            self.key_ran = self.key_at is not None

        MonitorApp._change_chart = chart_key  # type: ignore[method-assign,assignment]

    def on_candle(self, key: SeriesKey, candle: Candle) -> None:
        if self.on and key in self.visible and self.sent_at:
            self.pending.setdefault(key, []).append((self.sent_at, time.time()))


def count_chart_renders() -> None:
    """Counts every chart rebuild in CHART_RENDERS (the product keeps no render counters)."""
    build = CandlePanel._build_chart

    def counted(panel: CandlePanel, *args: Any) -> Any:
        CHART_RENDERS[0] += 1
        return build(panel, *args)

    CandlePanel._build_chart = counted  # type: ignore[method-assign,assignment]


def _visible(app: MonitorApp) -> list[PanelView]:
    return [p.view for p in app.panel_widgets if p.display and p.view is not None]


def _ready(app: MonitorApp, feed: Feed) -> bool:
    views = _visible(app)
    return (
        bool(views)
        and feed.health.state is ConnectionState.LIVE
        # Every series, not only the visible ones: the full load must be flowing before measuring.
        and all(w.state is WatchState.ACTIVE for w in feed.health.watch.values())
        and all(v.series is not None and len(v.series) > 0 and v.badge.label in READY_BADGES for v in views)
    )


async def drive(app: MonitorApp, feed: Feed, args: argparse.Namespace, probe: Probe | None) -> None:
    try:
        deadline = time.monotonic() + args.ready_timeout
        while not app.panel_widgets or not _ready(app, feed):
            if time.monotonic() > deadline:
                print("ERROR not ready: " + feed.health.state.value, flush=True)
                return
            await asyncio.sleep(0.05)
        await asyncio.sleep(args.settle)  # the initial backfill finishes and the badges settle
        warmup = time.monotonic()
        if args.min_rate > 0:
            # The simulator needs ~15 s after the subscriptions before it sends at full rate (it stalls
            # for whole seconds early on): measure only once 3 seconds in a row carry the load.
            good, last = 0, feed.health.messages
            while good < 3 and time.monotonic() - warmup < args.ready_timeout:
                await asyncio.sleep(1.0)
                good = good + 1 if feed.health.messages - last >= args.min_rate else 0
                last = feed.health.messages
        warmup = time.monotonic() - warmup
        visible = {v.series.key for v in _visible(app) if v.series is not None}
        counts: dict[SeriesKey, int] = dict.fromkeys(visible, 0)

        def count(key: SeriesKey, candle: Candle) -> None:
            if key in counts:
                counts[key] += 1

        feed.add_candle_listener(count)
        renders = CHART_RENDERS[0]
        messages = feed.health.messages
        if probe is not None:
            probe.visible, probe.on = visible, True
        print("READY", flush=True)
        start = time.monotonic()
        end = start + args.seconds
        presses = 0
        timeline: list[int] = []  # messages received in each second of the window (load ramp-up shows)
        mark, marked = start + 1.0, feed.health.messages
        while (now := time.monotonic()) < end:
            if now >= mark:
                timeline.append(feed.health.messages - marked)
                mark, marked = mark + 1.0, feed.health.messages
            if probe is not None and args.key_every > 0:
                if probe.key_at is None:
                    probe.key_at = time.time()
                    keys = CHART_KEYS if args.chart_keys else KEYS
                    app.simulate_key(keys[presses % len(keys)])
                    presses += 1
                await asyncio.sleep(args.key_every)
            else:
                await asyncio.sleep(min(0.5, end - now))
        wall = time.monotonic() - start
        stats: dict[str, Any] = {
            "wall": wall,
            "panels": len(visible),
            "panel_updates_per_s": sum(counts.values()) / wall / max(1, len(visible)),
            "messages_per_s": (feed.health.messages - messages) / wall,
            "chart_renders_per_s": (CHART_RENDERS[0] - renders) / wall,
            "timeline": timeline,
            "warmup_s": warmup,
        }
        if probe is not None:
            stats.update(candle=probe.candle, client=probe.client, keys=probe.keys, presses=presses)
        print("STATS " + json.dumps(stats), flush=True)
    finally:
        app.exit()


async def main_async(args: argparse.Namespace) -> None:
    quiet_logs()
    count_chart_renders()
    clock = PerfClock(args.speed, args.origin, args.offset)
    settings = Settings()
    path = Path(args.watchlist)
    config = FeedConfig(endpoint=f"127.0.0.1:{args.port}", token=SIM_TOKEN, plaintext=True, mode="DEMO")
    feed = Feed(config=config, clock=clock)
    probe = Probe() if args.latency else None
    if probe is not None:
        probe.install(feed, clock)
    app = make_app(settings, load_watchlists(path), path, feed, clock, watch_file=False)
    width, height = (int(n) for n in args.size.split("x"))
    driver = asyncio.create_task(drive(app, feed, args, probe))
    try:
        await app.run_async(headless=True, size=(width, height))
    finally:
        driver.cancel()
        await asyncio.gather(driver, return_exceptions=True)
        await feed.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--watchlist", required=True)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--origin", type=float, default=0.0)
    parser.add_argument("--offset", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--ready-timeout", type=float, default=60.0)
    parser.add_argument("--size", default="160x48")
    parser.add_argument("--latency", action="store_true")
    parser.add_argument("--min-rate", type=float, default=0.0, help="msg/s to reach before measuring")
    parser.add_argument("--key-every", type=float, default=0.0)
    parser.add_argument("--chart-keys", action="store_true", help="press the chart keys, not ↓/↑")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()

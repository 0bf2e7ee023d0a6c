"""`monitor` / `monitor tui`: the live terminal monitor (built-in simulator when there is no token)."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from monitor.cli_common import add_connection_arguments, clock_from_args, settings_from_args
from monitor.clock import Clock, ScaledClock
from monitor.settings import Settings
from monitor.watchlist import WatchlistError, Watchlists, load_watchlists

if TYPE_CHECKING:
    from monitor.feed.config import FeedConfig
    from monitor.sim import SimServer

log = structlog.get_logger("monitor.ui")
CLOSE_TIMEOUT_S = 0.5
SIGNALS: dict[signal.Signals, int] = {signal.SIGTERM: 0, signal.SIGINT: 130}
"""Signals that end the monitor like q (SIGINT like Ctrl+C: 130, the documented status)."""
HANGUP_STATUS = 129  # 128 + SIGHUP, as a shell reports a process its hang-up ended


def add_parser(subparsers: Any) -> None:
    """Registers the `tui` command (the default when `monitor` is run with no command)."""
    parser = subparsers.add_parser(
        "tui",
        help="live candle panels for a watchlist (default command)",
        description="Live market monitor. With no token (TINKOFF_TOKEN_STRING), it runs against the "
        "built-in simulator and says DEMO on the status bar.",
    )
    add_connection_arguments(parser)
    parser.set_defaults(func=run)


def load_watchlist_or_exit(settings: Settings) -> tuple[Watchlists, Path, Path | None] | None:
    """(watchlists, file to save and watch, template for a first save); None after printing the error."""
    source = settings.watchlist_path()
    try:
        watchlists = load_watchlists(source)
    except WatchlistError as exc:
        print(f"monitor: error: {exc}", file=sys.stderr)
        return None
    target = settings.writable_watchlist_path()
    return watchlists, target, (source if source != target else None)


def run(args: argparse.Namespace) -> int:
    """Runs the monitor until the user quits; 0 on a clean exit, 1 when the watchlist is broken."""
    settings, _notices = settings_from_args(args)
    clock = clock_from_args(args)
    loaded = load_watchlist_or_exit(settings)
    if loaded is None:
        return 1
    return asyncio.run(_main(settings, *loaded, clock=clock))


async def _main(
    settings: Settings, watchlists: Watchlists, path: Path, template: Path | None, *, clock: Clock
) -> int:
    from monitor.ui.app import make_app

    sim: SimServer | None = None
    config: FeedConfig
    if settings.demo:
        sim, config = await start_simulator(settings, clock)
    else:
        from monitor.feed.config import FeedConfig

        config = FeedConfig.from_settings(settings)
    from monitor.feed.supervisor import Feed

    # One clock for the feed (closed candles, gaps, backoff) and the app (ages on badges).
    feed = Feed(config=config, clock=clock)
    app = make_app(settings, watchlists, path, feed, clock, template_path=template)
    stopping: set[asyncio.Task[None]] = set()

    def on_signal(return_code: int) -> None:
        # Without this SIGTERM kills the process with the terminal still raw and in the alternate screen.
        task = asyncio.ensure_future(app.shutdown(return_code))
        stopping.add(task)
        task.add_done_callback(stopping.discard)

    async def hang_up() -> None:
        # The terminal is gone: Textual's orderly shutdown writes to it and blocks for ever (seen:
        # monitors left running after their tmux server was killed). Close the feed, then leave.
        await _bounded(feed.close(), "feed_close_timeout")
        if sim is not None:
            await _bounded(sim.stop(), "demo_simulator_stop_timeout")
        log.info("tui_hangup")
        os._exit(HANGUP_STATUS)

    def on_hangup() -> None:
        task = asyncio.ensure_future(hang_up())
        stopping.add(task)

    loop = asyncio.get_running_loop()
    for sig, code in SIGNALS.items():
        loop.add_signal_handler(sig, on_signal, code)
    loop.add_signal_handler(signal.SIGHUP, on_hangup)
    try:
        result = await app.run_async()
    finally:
        for sig in (*SIGNALS, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        await _bounded(feed.close(), "feed_close_timeout")
        if sim is not None:
            await _bounded(sim.stop(), "demo_simulator_stop_timeout")
    log.info("tui_exited", result=result, return_code=app.return_code)
    return app.return_code or 0


async def _bounded(closing: Coroutine[Any, Any, None], event: str) -> None:
    """Awaits a close for at most CLOSE_TIMEOUT_S: quitting must not hang on a stuck connection."""
    try:
        await asyncio.wait_for(closing, CLOSE_TIMEOUT_S)
    except TimeoutError:
        log.warning(event, timeout=CLOSE_TIMEOUT_S)


async def start_simulator(settings: Settings, clock: Clock | None = None) -> tuple[SimServer, FeedConfig]:
    """Starts the simulator on a loopback port and a plaintext feed config for it.

    It runs on `clock` (the feed's): real time, or N times faster with --sim-speed N.
    """
    from monitor.feed.config import FeedConfig
    from monitor.sim import SimConfig, SimServer

    speed = clock.speed if isinstance(clock, ScaledClock) else 1.0
    sim = SimServer(SimConfig(host="127.0.0.1", port=0, speed=speed), clock=clock)
    await sim.start()
    log.info("demo_simulator_started", address=sim.address)
    config = FeedConfig.from_settings(settings, endpoint=sim.address, token=sim.token, mode="DEMO")
    return sim, dataclasses.replace(config, plaintext=True)

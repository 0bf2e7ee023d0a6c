"""`monitor` / `monitor tui`: the live terminal monitor (built-in simulator when there is no token)."""

from __future__ import annotations

import os

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import argparse
import asyncio
import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from monitor.cli_common import add_connection_arguments, settings_from_args
from monitor.settings import Settings
from monitor.watchlist import WatchlistError, Watchlists, load_watchlists

if TYPE_CHECKING:
    from monitor.feed.config import FeedConfig
    from monitor.sim import SimServer

log = structlog.get_logger("monitor.ui")


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
    loaded = load_watchlist_or_exit(settings)
    if loaded is None:
        return 1
    return asyncio.run(_main(settings, *loaded))


async def _main(settings: Settings, watchlists: Watchlists, path: Path, template: Path | None) -> int:
    from monitor.ui.app import make_app

    sim: SimServer | None = None
    config: FeedConfig
    if settings.demo:
        sim, config = await start_simulator(settings)
    else:
        from monitor.feed.config import FeedConfig

        config = FeedConfig.from_settings(settings)
    from monitor.feed.supervisor import Feed

    feed = Feed(config=config)
    app = make_app(settings, watchlists, path, feed, template_path=template)
    try:
        result = await app.run_async()
    finally:
        await feed.close()
        if sim is not None:
            await sim.stop()
    log.info("tui_exited", result=result, return_code=app.return_code)
    return app.return_code or 0


async def start_simulator(settings: Settings) -> tuple[SimServer, FeedConfig]:
    """Starts the simulator on a loopback port (real time) and a plaintext feed config for it."""
    from monitor.feed.config import FeedConfig
    from monitor.sim import SimConfig, SimServer

    sim = SimServer(SimConfig(host="127.0.0.1", port=0, speed=1.0))
    await sim.start()
    log.info("demo_simulator_started", address=sim.address)
    config = FeedConfig.from_settings(settings, endpoint=sim.address, token=sim.token, mode="DEMO")
    return sim, dataclasses.replace(config, plaintext=True)

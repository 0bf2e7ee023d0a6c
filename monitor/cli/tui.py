"""`monitor` / `monitor tui`: the live terminal monitor (built-in simulator when there is no token)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from monitor.cli import demo, record
from monitor.cli.common import (
    add_connection_arguments,
    add_store_arguments,
    bounded,
    clock_from_args,
    settings_from_args,
)
from monitor.cli.runstore import close_run_store, open_run_store
from monitor.clock import Clock
from monitor.exits import EXIT_HANGUP, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from monitor.settings import Settings
from monitor.watchlist import WatchlistError, Watchlists, load_watchlists

if TYPE_CHECKING:
    from monitor.recording import RecordingWriter

log = structlog.get_logger("monitor.ui")
SIGNALS: dict[signal.Signals, int] = {signal.SIGTERM: EXIT_OK, signal.SIGINT: EXIT_INTERRUPTED}
"""Signals that end the monitor like q (SIGINT like Ctrl+C, with its documented status)."""


def add_parser(subparsers: Any) -> None:
    """Registers the `tui` command (the default when `monitor` is run with no command)."""
    parser = subparsers.add_parser(
        "tui",
        help="live candle panels for a watchlist (default command)",
        description="Live market monitor. With no token (TINKOFF_TOKEN_STRING), it runs against the "
        "built-in simulator and says DEMO on the status bar.",
    )
    parser.add_argument(
        "--record", type=Path, metavar="FILE", help="record the stream to FILE (`monitor record`)"
    )
    add_connection_arguments(parser)
    add_store_arguments(parser)
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
    """Runs the monitor until the user quits; 0 on a clean exit, 2 (usage) when the watchlist is broken."""
    settings, _notices = settings_from_args(args)
    clock = clock_from_args(args)
    loaded = load_watchlist_or_exit(settings)
    if loaded is None:
        return EXIT_USAGE
    recorder = (
        record.open_recording(args.record, loaded[0].active_list.entries, clock) if args.record else None
    )
    if args.record and recorder is None:
        return EXIT_USAGE  # the file cannot be created: said on stderr
    return asyncio.run(
        _main(settings, *loaded, clock=clock, recorder=recorder, record_path=args.record, args=args)
    )


async def _main(
    settings: Settings, watchlists: Watchlists, path: Path, template: Path | None, *, clock: Clock,
    recorder: RecordingWriter | None = None, record_path: Path | None = None,
    args: argparse.Namespace,
) -> int:  # fmt: skip
    # Imported here: `monitor --help` builds every command's parser and must not load Textual or grpc.
    from monitor.feed import Feed
    from monitor.ui.app import make_app

    async with contextlib.AsyncExitStack() as resources:
        config = await resources.enter_async_context(demo.feed_config(settings, clock))
        # One clock for the feed (closed candles, gaps, backoff) and the app (ages on badges).
        if recorder is not None and record_path is not None:  # closed once the feed is (callbacks run LIFO)
            resources.push_async_callback(record.close_recording, recorder, record_path)
        run_store = await asyncio.to_thread(open_run_store, settings, args, demo=config.mode == "DEMO")
        for notice in run_store.notices:  # the terminal is the app's: the log and the status bar say it
            log.warning("store_notice", notice=notice)
        resources.push_async_callback(close_run_store, run_store.store)  # after the feed (LIFO)
        feed = Feed(config=record.tapped(config, recorder), clock=clock, cache=run_store.store)
        resources.push_async_callback(lambda: bounded(feed.close(), "feed_close_timeout"))
        app = make_app(settings, watchlists, path, feed, clock, template_path=template)
        app.store_status = run_store.status  # the status bar's "store off: <reason>" (StatusInfo.store)
        stopping: set[asyncio.Task[None]] = set()

        def on_signal(return_code: int) -> None:
            # Without this SIGTERM kills the process with the terminal still raw and in the alternate screen.
            task = asyncio.ensure_future(app.shutdown(return_code))
            stopping.add(task)
            task.add_done_callback(stopping.discard)

        async def hang_up() -> None:
            # The terminal is gone: Textual's orderly shutdown writes to it and blocks for ever (seen:
            # monitors left running after their tmux server was killed). Close the feed (and the
            # simulator), then leave; a save in flight lands first (os._exit would cut it short).
            await bounded(app.saver.drain(), "watchlist_save_timeout")
            await resources.aclose()
            log.info("tui_hangup")
            os._exit(EXIT_HANGUP)

        def on_hangup() -> None:
            stopping.add(asyncio.ensure_future(hang_up()))

        loop = asyncio.get_running_loop()
        for sig, code in SIGNALS.items():
            loop.add_signal_handler(sig, on_signal, code)
        loop.add_signal_handler(signal.SIGHUP, on_hangup)
        try:
            result = await app.run_async()
        finally:
            for sig in (*SIGNALS, signal.SIGHUP):
                loop.remove_signal_handler(sig)
    log.info("tui_exited", result=result, return_code=app.return_code)
    if (lost := app.saver.unsaved_report()) is not None:
        print(f"monitor: {lost}", file=sys.stderr)  # kept in memory until now: say what quitting lost
    return app.return_code or EXIT_OK

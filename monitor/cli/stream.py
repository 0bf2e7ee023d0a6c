"""`monitor stream`: live candles as NDJSON (or compact lines) on stdout, health on stderr."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from monitor.alerts import AlertEngine, AlertState
from monitor.alerts.indicator import book_indicator
from monitor.cli import demo, record
from monitor.cli.common import (
    add_connection_arguments,
    add_store_arguments,
    clock_from_args,
    interval_arg,
    settings_from_args,
    silence,
)
from monitor.cli.printer import Outbox, Printer
from monitor.cli.runstore import RunStore, close_run_store, open_run_store
from monitor.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from monitor.feed import ConnectionState, FeedLike, HealthEvent
from monitor.market import Interval, WatchKey
from monitor.market.indicators import IndicatorBook
from monitor.settings import Settings
from monitor.watchlist import WatchlistError, load_watchlists

if TYPE_CHECKING:
    from monitor.feed import FeedConfig

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def add_parser(subparsers: Any) -> None:
    """Registers `monitor stream ID [ID ...] [--interval 1m] [--json]`."""
    parser = subparsers.add_parser(
        "stream",
        help="print live candles to stdout (NDJSON with --json)",
        description="Stream candles of one or more instruments; health changes go to stderr. "
        "With no token, streams from the built-in simulator.",
    )
    parser.add_argument("ids", nargs="+", metavar="ID", help="instrument: TICKER_CLASSCODE, FIGI or uid")
    parser.add_argument(
        "--interval",
        type=interval_arg,
        default=Interval.M1,
        metavar="INTERVAL",
        help="1m (default), 5m, 1h…",
    )
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per candle update and per alert fired"
    )
    parser.add_argument(
        "--record", type=Path, metavar="FILE", help="also record the stream to FILE (`monitor record`)"
    )
    add_connection_arguments(parser)
    add_store_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Streams until Ctrl+C (exit 130), SIGTERM (exit 0) or a fatal feed error (exit 1)."""
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> int:
    # Imported here: `monitor --help` builds every command's parser and must not load grpc.
    from monitor.feed import Feed

    settings, _ = settings_from_args(args)
    usable, alerts = alert_engine(settings, args.ids, args.interval, explicit=args.watchlist is not None)
    if not usable:
        return EXIT_USAGE
    clock = clock_from_args(args)
    stop = asyncio.Event()
    keys = [WatchKey(watch_id, args.interval) for watch_id in args.ids]
    recorder = record.open_recording(args.record, keys, clock) if args.record else None
    if args.record and recorder is None:
        return EXIT_USAGE  # the file cannot be created: said on stderr
    run_store: RunStore | None = None
    try:
        with stopping_on_signals(stop) as received:
            async with demo.feed_config(settings, clock) as config:
                say_demo(config, "streaming from")
                run_store = await asyncio.to_thread(
                    open_run_store, settings, args, demo=config.mode == "DEMO"
                )
                for notice in run_store.notices:
                    print(f"monitor: {notice}", file=sys.stderr)
                feed = Feed(config=record.tapped(config, recorder), clock=clock, cache=run_store.store)
                status = await stream(
                    feed, args.ids, args.interval, as_json=args.json, stop=stop, alerts=alerts
                )
            return exit_status(status, received)
    finally:
        if run_store is not None:
            await close_run_store(run_store.store)  # after the feed closed: its last saves are queued
        if recorder is not None:
            await record.close_recording(recorder, args.record)


@contextlib.contextmanager
def stopping_on_signals(stop: asyncio.Event) -> Iterator[list[int]]:
    """Sets `stop` on SIGINT or SIGTERM inside the block; yields the signals received (in order)."""
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(sig: int) -> None:
        received.append(sig)
        stop.set()

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        yield received
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def exit_status(status: int, received: Sequence[int]) -> int:
    """Ctrl+C is an interruption (130, as every command); SIGTERM is a requested stop (`status`)."""
    return EXIT_INTERRUPTED if signal.SIGINT in received and status == EXIT_OK else status


def say_demo(config: FeedConfig, doing: str) -> None:
    """Says on stderr that there is no token and the built-in simulator is used (`doing` it)."""
    if config.mode == "DEMO":
        print(f"monitor: no token: {doing} the built-in simulator at {config.endpoint}", file=sys.stderr)


def alert_engine(
    settings: Settings, ids: Sequence[str], interval: Interval, *, explicit: bool
) -> tuple[bool, AlertEngine | None]:
    """(usable, the engine for the watchlist's alerts on the streamed ids at `interval`, None when
    there are none); not usable (after printing why) when the --watchlist FILE does not load.

    Its state is the stream's own (next to the monitor's, same watchlist): a script's alerts and
    the TUI's fire independently, each once.
    """
    try:
        watchlists = load_watchlists(settings.watchlist_path())
    except WatchlistError as exc:
        if explicit:
            print(f"monitor: error: {exc}", file=sys.stderr)
            return False, None
        print(f"monitor: alerts off: {exc}", file=sys.stderr)
        return True, None
    rules = [r for r in watchlists.alerts if r.instrument in ids and r.interval is interval]
    if not rules:
        return True, None
    state = AlertState.for_watchlist(_stream_state_key(settings.writable_watchlist_path()))
    if state.notice:
        print(f"monitor: {state.notice}", file=sys.stderr)
    # `close above sma N` rules read the indicators of the streamed series (fed by the feed's candles).
    book = IndicatorBook()
    return True, AlertEngine(rules, state, indicator=book_indicator(book), feeds=book)


def _stream_state_key(watchlist: Path) -> Path:
    return watchlist.with_name(f"{watchlist.name}.stream")


async def stream(
    feed: FeedLike,
    ids: Sequence[str],
    interval: Interval,
    *,
    as_json: bool,
    stop: asyncio.Event,
    out: TextIO | None = None,
    err: TextIO | None = None,
    alerts: AlertEngine | None = None,
) -> int:
    """Runs `feed` for `ids` and prints its updates until `stop` is set or the feed gives up.

    The feed's callbacks only queue updates; a writer task formats them and writes from a
    thread, so a slow or blocked stdout never stalls the receive loop. With `alerts`, every alert
    that fires is printed as its own line (`{"event": "alert", ...}` with `as_json`).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    outbox = Outbox()
    printer = Printer(feed, ids, as_json=as_json)
    fatal: list[HealthEvent] = []

    def on_event(event: HealthEvent) -> None:
        outbox.put_line(printer.health_line(event, feed.health.next_retry_at))
        if event.state is ConnectionState.AUTH_FAILED:
            fatal.append(event)
            stop.set()

    feed.add_candle_listener(
        lambda key, candle: outbox.put_candle(key, candle) if key.interval is interval else None
    )
    feed.add_event_listener(on_event)
    if alerts is not None:
        alerts.attach(feed)
        alerts.add_listener(outbox.put_alert)
    feed.watch([WatchKey(watch_id, interval) for watch_id in ids])
    writer = asyncio.create_task(_write(outbox, printer, out, err, stop))
    runner = asyncio.create_task(feed.run())
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({runner, stopped}, return_when=asyncio.FIRST_COMPLETED)
        gave_up = runner.done() and not stop.is_set()
    finally:
        await feed.close()
        for task in (runner, stopped):
            task.cancel()
        results = await asyncio.gather(runner, stopped, return_exceptions=True)
        if alerts is not None:
            alerts.flush()
        outbox.close()
        await writer
    failure = results[0]
    if isinstance(failure, Exception):
        print(f"monitor: error: the feed stopped: {type(failure).__name__}: {failure}", file=err)
        return EXIT_FAILED
    if gave_up:
        print(f"monitor: error: the feed stopped: {feed.health.last_reason or 'unknown reason'}", file=err)
    return EXIT_FAILED if fatal or gave_up else EXIT_OK


async def _write(outbox: Outbox, printer: Printer, out: TextIO, err: TextIO, stop: asyncio.Event) -> None:
    while True:
        batch = await outbox.next_batch()
        lines, notes = printer.render(batch) if batch is not None else (printer.flush(), [])
        if batch is None and not lines:
            return
        try:
            await asyncio.to_thread(_emit, out, lines, err, notes)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, and keep Python's exit flush silent.
            silence(out)
            stop.set()
            return
        if batch is None:
            return


def _emit(out: TextIO, lines: list[str], err: TextIO, notes: list[str]) -> None:
    if notes:
        err.write("".join(notes))
        err.flush()
    if lines:
        out.write("".join(lines))
        out.flush()

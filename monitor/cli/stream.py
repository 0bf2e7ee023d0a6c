"""`monitor stream`: live candles as NDJSON (or compact lines) on stdout, health on stderr."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from monitor.cli import demo, record
from monitor.cli.common import (
    add_connection_arguments,
    clock_from_args,
    interval_arg,
    settings_from_args,
    silence,
)
from monitor.cli.printer import Outbox, Printer
from monitor.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from monitor.feed import ConnectionState, FeedLike, HealthEvent
from monitor.market import Interval, WatchKey


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
    parser.add_argument("--json", action="store_true", help="one JSON object per candle update")
    parser.add_argument(
        "--record", type=Path, metavar="FILE", help="also record the stream to FILE (`monitor record`)"
    )
    add_connection_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Streams until Ctrl+C (exit 130), SIGTERM (exit 0) or a fatal feed error (exit 1)."""
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> int:
    # Imported here: `monitor --help` builds every command's parser and must not load grpc.
    from monitor.feed import Feed

    settings, _ = settings_from_args(args)
    clock = clock_from_args(args)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    interrupted: list[int] = []
    keys = [WatchKey(watch_id, args.interval) for watch_id in args.ids]
    recorder = record.open_recording(args.record, keys, clock) if args.record else None
    if args.record and recorder is None:
        return EXIT_USAGE  # the file cannot be created: said on stderr

    def on_signal(sig: int) -> None:
        interrupted.append(sig)
        stop.set()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        async with demo.feed_config(settings, clock) as config:
            if config.mode == "DEMO":
                print(
                    f"monitor: no token: streaming from the built-in simulator at {config.endpoint}",
                    file=sys.stderr,
                )
            feed = Feed(config=record.tapped(config, recorder), clock=clock)
            status = await stream(feed, args.ids, args.interval, as_json=args.json, stop=stop)
            # Ctrl+C is an interruption (130, as every command); SIGTERM is a requested stop (0).
            return EXIT_INTERRUPTED if signal.SIGINT in interrupted and status == EXIT_OK else status
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        if recorder is not None:
            await record.close_recording(recorder, args.record)


async def stream(
    feed: FeedLike,
    ids: Sequence[str],
    interval: Interval,
    *,
    as_json: bool,
    stop: asyncio.Event,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Runs `feed` for `ids` and prints its updates until `stop` is set or the feed gives up.

    The feed's callbacks only queue updates; a writer task formats them and writes from a
    thread, so a slow or blocked stdout never stalls the receive loop.
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

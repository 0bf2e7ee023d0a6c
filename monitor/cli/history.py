"""`monitor history ID --from DATE`: closed candles from the store, missing ones fetched, as CSV or NDJSON."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from monitor.cli import demo
from monitor.cli.common import (
    add_connection_arguments,
    add_store_arguments,
    clock_from_args,
    fetch_or_exit_status,
    history_source,
    interval_arg,
    settings_from_args,
    silence,
)
from monitor.cli.store import open_store
from monitor.clock import Clock
from monitor.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from monitor.files import write_atomically
from monitor.market import Instrument, Interval, RangeSet, SeriesKey
from monitor.store.codec import SOURCE_NAMES, CandleRow, candle_row, nano_text

if TYPE_CHECKING:
    from monitor.feed import FeedConfig
    from monitor.store import CandleStore

INSTRUMENT_MAX_AGE_S = 86_400.0
"""Instrument metadata from the store is used for a day before it is looked up again."""
SETTLE_S = 60
"""Candles younger than this are fetched again next time: a closing candle may still be corrected."""
FIRST_DATE = datetime(1970, 1, 2, tzinfo=UTC)
LAST_DATE = datetime(2100, 1, 1, tzinfo=UTC)
FORMATS = ("csv", "ndjson")

Progress = Callable[[int, int], None]


def date_arg(text: str) -> int:
    """A --from/--to value: YYYY-MM-DD or an ISO-8601 time (UTC unless it names an offset), as epoch s."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use YYYY-MM-DD or an ISO-8601 time like 2026-11-02T10:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if not FIRST_DATE <= moment <= LAST_DATE:
        raise argparse.ArgumentTypeError(f"{text!r} is outside 1970-01-02..2100-01-01")
    return int(moment.timestamp())


def add_parser(subparsers: Any) -> None:
    """Registers `monitor history ID --from DATE [--to DATE] [--interval 1m] [--format F] [-o FILE]`."""
    parser = subparsers.add_parser(
        "history",
        help="export closed candles of a period as CSV or NDJSON",
        description="Print the closed candles of one instrument that start in [--from, --to): from the "
        "candle store, fetching only what it lacks with GetCandles. Prices are exact decimals, times "
        "ISO-8601 UTC. With no token, reads the built-in simulator.",
    )
    parser.add_argument("id", metavar="ID", help="instrument: TICKER_CLASSCODE, FIGI or uid")
    parser.add_argument(
        "--interval", type=interval_arg, default=Interval.M1, metavar="INTERVAL", help="1m (default), 1h, 1d…"
    )
    parser.add_argument(
        "--from", dest="start", type=date_arg, required=True, metavar="DATE", help="first time"
    )
    parser.add_argument(
        "--to", dest="end", type=date_arg, metavar="DATE", help="end, excluded (default: now)"
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="csv", help="csv (default, with a header) or ndjson"
    )
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE (atomically), not stdout"
    )
    add_connection_arguments(parser)
    add_store_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Exports the candles; 2 on bad input, 1 (one line on stderr) when the API or the file fails."""
    return asyncio.run(history(args))


async def history(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The command body; `out`/`err` default to stdout/stderr (tests pass buffers)."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    settings, _ = settings_from_args(args)
    clock = clock_from_args(args)
    start: int = args.start
    end: int = int(clock.now()) if args.end is None else args.end
    if end <= start:
        print("monitor: error: --to must be after --from", file=err)
        return EXIT_USAGE
    async with demo.feed_config(settings, clock) as config:
        if config.mode == "DEMO":
            print(f"monitor: no token: reading the built-in simulator at {config.endpoint}", file=err)
        store = open_store(settings, demo=config.mode == "DEMO")
        try:
            for notice in store.notices:
                print(f"monitor: {notice}", file=err)
            if store.unavailable is not None and settings.store.enabled:
                print(f"monitor: running without the store: {store.unavailable}", file=err)
            exporting = export(
                config, store, args.id, args.interval, start, end, clock=clock, progress=progress_bar(err)
            )
            exported = await fetch_or_exit_status(exporting, err, unknown_id_status=EXIT_USAGE)
        finally:
            store.close()
    if isinstance(exported, int):
        return exported  # said on err
    _, rows = exported
    text = render(rows, args.format)
    if args.output is not None:
        try:
            write_atomically(args.output.expanduser(), text, 0o644)
        except OSError as exc:
            print(f"monitor: error: cannot write {args.output}: {exc.strerror or exc}", file=err)
            return EXIT_FAILED
        return EXIT_OK
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        silence(sys.stdout)  # `monitor history … | head` closed the pipe early: not an error
    return EXIT_OK


async def export(
    config: FeedConfig,
    store: CandleStore,
    watch_id: str,
    interval: Interval,
    start: int,
    end: int,
    *,
    clock: Clock,
    progress: Progress | None = None,
) -> tuple[Instrument, list[CandleRow]]:
    """The closed candles starting in [start, end), oldest first, one per period.

    What the store knows complete is read from it; every other span is fetched page by page
    (plan_chunks: each page within GetCandles' window and limit, paced by HistoryClient) and saved,
    with the span marked complete up to SETTLE_S before now.

    Raises:
        InstrumentError: the id is malformed or not found.
        HistoryError, grpc.aio.AioRpcError: the API refused or could not be reached.
    """
    from monitor.feed.history import plan_chunks

    source = history_source(config, watch_id, clock=clock, cache=store, max_age_s=INSTRUMENT_MAX_AGE_S)
    async with source as (instrument, client):
        key = SeriesKey(instrument.uid, interval)
        settled = interval.start_of(int(clock.now()) - SETTLE_S)
        pages = [
            page
            for lo, hi in missing(store.complete_ranges(key), start, end)
            for page in plan_chunks(interval, lo, hi)
        ]
        fetched: dict[int, CandleRow] = {}
        for done, (lo, hi) in enumerate(pages, 1):
            candles = await client.fetch(instrument.uid, interval, lo, hi)
            # Keyed by time: a candle at a page seam is kept once.
            fetched.update((c.time, candle_row(c)) for c in candles)
            known = min(hi, settled)
            store.save(key, candles, (lo, known) if lo < known else None)
            if progress is not None:
                progress(done, len(pages))
    store.flush()
    rows = {row[0]: row for row in store.rows(key, start, end)}
    rows.update(fetched)  # what the store could not keep (off, full) still goes out
    return instrument, [rows[t] for t in sorted(rows)]


def missing(complete: Sequence[tuple[int, int]], start: int, end: int) -> list[tuple[int, int]]:
    """The parts of [start, end) outside the `complete` ranges."""
    holes = RangeSet([(start, end)])
    for lo, hi in complete:
        holes.remove(lo, hi)
    return list(holes)


def render(rows: Sequence[CandleRow], fmt: str) -> str:
    """CSV with a header, or one JSON object per line; prices as exact decimals, times ISO-8601 UTC."""
    lines: list[str] = ["time,open,high,low,close,volume,source\n"] if fmt == "csv" else []
    for time, open_, high, low, close, volume, source in rows:
        when = datetime.fromtimestamp(time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        prices = (nano_text(open_), nano_text(high), nano_text(low), nano_text(close))
        name = SOURCE_NAMES.get(source, "history")
        if fmt == "csv":
            lines.append(f"{when},{','.join(prices)},{volume},{name}\n")
        else:
            # JSON numbers are decimal text: written from the exact digits, never through a float.
            o, h, lo, c = prices
            lines.append(
                f'{{"time":"{when}","open":{o},"high":{h},"low":{lo},"close":{c},'
                f'"volume":{volume},"source":"{name}"}}\n'
            )
    return "".join(lines)


def progress_bar(err: TextIO) -> Progress | None:
    """A one-line page counter on `err`, only when it is a terminal (never in a pipe or a log)."""
    if not (hasattr(err, "isatty") and err.isatty()):
        return None

    def show(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(1, total)
        err.write(f"\r[{'#' * filled}{' ' * (width - filled)}] {done}/{total} pages")
        if done == total:
            err.write("\n")
        err.flush()

    return show

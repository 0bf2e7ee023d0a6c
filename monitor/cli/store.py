"""`monitor store --info | --prune`: what the candle store holds, and trimming it to the retention."""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from monitor.cli.common import settings_from_args
from monitor.exits import EXIT_FAILED, EXIT_OK
from monitor.settings import Settings

if TYPE_CHECKING:
    from monitor.store import CandleStore
    from monitor.store.maintenance import StoreInfo


def add_parser(subparsers: Any) -> None:
    """Registers `monitor store (--info | --prune) [--store PATH]`."""
    parser = subparsers.add_parser(
        "store",
        help="show or prune the candle store",
        description="The embedded candle store: --info prints its size, series, candles and ranges; "
        "--prune deletes candles older than each interval's retention (settings: store.retention_days).",
    )
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--info", action="store_true", help="size, series, candles and ranges")
    action.add_argument("--prune", action="store_true", help="delete candles past their retention")
    parser.add_argument("--store", type=Path, metavar="PATH", help="candle store file (default: store.path)")
    parser.add_argument("--demo", action="store_true", help="the demo mode's store (the simulator's candles)")
    parser.set_defaults(func=run)


def open_store(settings: Settings, path: Path | None = None, *, demo: bool = False) -> CandleStore:
    """The store the settings name (or `path`), or a disabled one when store.enabled is false.

    In demo mode the simulator's candles go to a file of their own beside it (`demo-store.sqlite3`):
    its instruments carry real uids, and its made-up prices must never mix with the real ones.
    Never raises: a store that cannot be used comes back with `unavailable` set.
    """
    from monitor.store import CandleStore

    where = path or settings.store.path
    if demo:
        where = demo_path(where)
    if path is None and not settings.store.enabled:
        return CandleStore.disabled(where, "the store is off (store.enabled = false or --no-store)")
    return CandleStore.open(where)


def demo_path(path: Path) -> Path:
    """The demo mode's store beside `path`: `store.sqlite3` -> `demo-store.sqlite3`."""
    return path.with_name(f"demo-{path.name}")


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Prints the summary or prunes; 1 with one line on stderr when the store cannot be used."""
    from monitor.store.maintenance import compact, file_size, prune, store_info
    from monitor.store.opening import describe

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    settings, _ = settings_from_args(args)
    path: Path = (args.store or settings.store.path).expanduser()
    if args.demo:
        path = demo_path(path)
    if not path.exists():
        print(f"no store at {path} yet (the monitor makes it on its first run)", file=out)
        return EXIT_OK
    store = open_store(settings, path)
    try:
        for notice in store.notices:
            print(f"monitor: {notice}", file=err)
        if store.unavailable is not None:
            print(f"monitor: error: {store.unavailable}", file=err)
            return EXIT_FAILED
        if args.info:
            out.write(info_text(store_info(store)))
            return EXIT_OK
        before = file_size(path)
        try:
            deleted = prune(store, settings.store.retention(), time.time())
            compact(store)
        except sqlite3.Error as exc:  # another monitor held the lock past the busy timeout, a full disk
            print(f"monitor: error: cannot prune {path}: {describe(exc)}", file=err)
            return EXIT_FAILED
        for interval, count in sorted(deleted.items(), key=lambda item: item[0].seconds):
            days = settings.store.retention()[interval]
            print(f"{interval.code}: deleted {count:,} candles older than {days} days", file=out)
        print(f"store size {_size(before)} -> {_size(file_size(path))}", file=out)
        return EXIT_OK
    finally:
        store.close()


def info_text(info: StoreInfo) -> str:
    """The --info summary: totals, then one line per interval."""
    lines = [
        f"store       {info.path}",
        f"size        {_size(info.size_bytes)}",
        f"schema      version {info.version}",
        f"series      {info.series:,}",
        f"candles     {info.candles:,}",
        f"ranges      {info.ranges:,} complete",
        f"instruments {info.instruments:,}",
    ]
    if info.intervals:
        lines.append("interval  series     candles  ranges  oldest                newest")
    for i in info.intervals:
        lines.append(
            f"{i.interval.code:<8}{i.series:>8,}{i.candles:>12,}{i.ranges:>8,}  {_when(i.oldest):<20}  "
            f"{_when(i.newest)}"
        )
    return "\n".join(lines) + "\n"


def _when(ts: int | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} B"
    value = float(n)
    for unit in ("KiB", "MiB"):
        value /= 1024
        if value < 1024:
            return f"{value:,.1f} {unit}"
    return f"{value / 1024:,.1f} GiB"

"""What `monitor store` does: a summary of the file (--info) and per-interval retention (--prune)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from monitor.market import Interval, RangeSet
from monitor.store.schema import transaction
from monitor.store.store import CandleStore

DAY = 86_400


@dataclass(frozen=True, slots=True)
class IntervalInfo:
    """The series, candles and ranges of one interval, and the span of its candles."""

    interval: Interval
    series: int
    candles: int
    ranges: int
    oldest: int | None
    newest: int | None


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What `monitor store --info` prints."""

    path: Path
    size_bytes: int
    """The file and its write-ahead log."""
    version: int
    series: int
    candles: int
    ranges: int
    instruments: int
    intervals: tuple[IntervalInfo, ...]


def file_size(path: Path) -> int:
    """Bytes of the store and its WAL files (a missing one counts 0)."""
    total = 0
    for name in (str(path), f"{path}-wal", f"{path}-shm"):
        try:
            total += os.stat(name).st_size
        except OSError:
            continue
    return total


def store_info(store: CandleStore) -> StoreInfo:
    """Counts the store's content (on its read connection)."""

    def count(conn: sqlite3.Connection) -> StoreInfo:
        per_interval = conn.execute(
            "SELECT s.interval, count(DISTINCT s.id), count(c.time), min(c.time), max(c.time) "
            "FROM series s LEFT JOIN candles c ON c.series = s.id GROUP BY s.interval"
        ).fetchall()
        ranges = dict(
            conn.execute(
                "SELECT s.interval, count(*) FROM ranges r JOIN series s ON r.series = s.id "
                "GROUP BY s.interval"
            ).fetchall()
        )
        intervals = tuple(
            IntervalInfo(Interval(code), series, candles, ranges.get(code, 0), oldest, newest)
            for code, series, candles, oldest, newest in per_interval
        )
        return StoreInfo(
            path=store.path,
            size_bytes=file_size(store.path),
            version=int(conn.execute("PRAGMA user_version").fetchone()[0]),
            series=sum(i.series for i in intervals),
            candles=sum(i.candles for i in intervals),
            ranges=sum(i.ranges for i in intervals),
            instruments=int(conn.execute("SELECT count(*) FROM instruments").fetchone()[0]),
            intervals=tuple(sorted(intervals, key=lambda i: i.interval.seconds)),
        )

    return store.read(count)


def prune(store: CandleStore, retention_days: Mapping[Interval, int], now: float) -> dict[Interval, int]:
    """Deletes candles older than each interval's retention (0 keeps all); returns those deleted.

    The complete ranges lose the pruned span too, so a later fetch knows to ask for it again.
    Runs on the writer thread, in one transaction, after the writes already queued.
    """

    def run(conn: sqlite3.Connection) -> dict[Interval, int]:
        deleted: dict[Interval, int] = {}
        with transaction(conn):
            for interval, days in retention_days.items():
                if days <= 0:
                    continue
                cutoff = int(now) - days * DAY
                ids = [
                    row[0]
                    for row in conn.execute("SELECT id FROM series WHERE interval = ?", (interval.value,))
                ]
                removed = 0
                for series in ids:
                    removed += conn.execute(
                        "DELETE FROM candles WHERE series = ? AND time < ?", (series, cutoff)
                    ).rowcount
                    _trim_ranges(conn, series, cutoff)
                deleted[interval] = removed
        return deleted

    return store.write(run)


def _trim_ranges(conn: sqlite3.Connection, series: int, cutoff: int) -> None:
    ranges = RangeSet(list(conn.execute("SELECT start, end FROM ranges WHERE series = ?", (series,))))
    ranges.remove(-(1 << 62), cutoff)
    conn.execute("DELETE FROM ranges WHERE series = ?", (series,))
    conn.executemany("INSERT INTO ranges VALUES (?, ?, ?)", [(series, a, b) for a, b in ranges])


def compact(store: CandleStore) -> None:
    """Gives the space of deleted rows back to the file system (VACUUM, then truncates the WAL)."""

    def run(conn: sqlite3.Connection) -> None:
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    store.write(run)

"""CandleStore: closed candles, complete ranges and instrument metadata in one SQLite file."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import structlog

from monitor.market import Candle, Instrument, SeriesKey
from monitor.store.codec import INSTRUMENT_COLUMNS, CandleRow, InstrumentRow, row_candle, row_instrument
from monitor.store.inspection import StoreUnavailable
from monitor.store.opening import connect, describe, open_writer
from monitor.store.writer import SaveCandles, SaveInstrument, Writer

T = TypeVar("T")
log = structlog.get_logger("monitor.store")

_new_tuple = tuple.__new__
_SERIES = "SELECT id FROM series WHERE uid = ? AND interval = ?"


class CandleStore:
    """The store of one file; build it with `CandleStore.open`, which never raises.

    Writes are queued for one writer thread and committed in batches (one transaction each), so
    `save` never blocks the event loop; reads run on the caller's thread on their own connection
    (WAL: a read never waits for the writer). When the store cannot be used, `unavailable` says
    why (once, also logged) and the store answers empty and drops writes: the monitor runs on.
    """

    def __init__(
        self,
        path: Path,
        writer: Writer | None,
        reader: sqlite3.Connection | None,
        *,
        unavailable: str | None = None,
        notices: Sequence[str] = (),
        now: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._read_lock = threading.Lock()
        self._unavailable = unavailable
        self.notices: list[str] = list(notices)
        """One-line notices from opening (a corrupt file moved aside), for the user."""
        self._now = now
        self._closed = False

    @classmethod
    def open(
        cls, path: Path, *, max_bytes: int | None = None, now: Callable[[], float] = time.time
    ) -> CandleStore:
        """Opens or makes the store at `path`; a store that cannot be used comes back `unavailable`.

        Args:
            path: the SQLite file (its directory is made if missing).
            max_bytes: a cap on the file's size; reaching it is handled like a full disk.
            now: wall time, for instrument ages.
        """
        try:
            opened = open_writer(path, max_bytes)
        except StoreUnavailable as exc:
            log.warning("store_unavailable", path=str(path), reason=str(exc))
            return cls(path, None, None, unavailable=str(exc), now=now)
        try:
            reader = connect(path, read_only=True)
        except sqlite3.Error as exc:
            opened.conn.close()
            reason = f"cannot read the store at {path}: {describe(exc)}"
            log.warning("store_unavailable", path=str(path), reason=reason)
            return cls(path, None, None, unavailable=reason, now=now)
        store = cls(path, None, reader, notices=opened.notices, now=now)
        store._writer = Writer(opened.conn, store._writer_failed)
        log.info("store_opened", path=str(path))
        return store

    @classmethod
    def disabled(cls, path: Path, reason: str) -> CandleStore:
        """A store that is not there (`--no-store`): empty answers, writes dropped."""
        return cls(path, None, None, unavailable=reason)

    @property
    def unavailable(self) -> str | None:
        """Why the store is not in use (or stopped writing), for the status bar; None while it works."""
        return self._unavailable

    @property
    def writer(self) -> Writer | None:
        """The writer thread (its counters feed the benchmark)."""
        return self._writer

    def _writer_failed(self, exc: BaseException) -> None:
        reason = f"the store stopped saving: {describe(exc)}"
        self._unavailable = reason
        log.warning("store_unavailable", path=str(self.path), reason=reason, error=str(exc))

    # --- the CandleCache protocol (monitor/feed/cache.py) --------------------------------------

    def load(self, key: SeriesKey, start: int | None, end: int | None, limit: int) -> list[Candle]:
        """The newest `limit` closed candles starting in [start, end), oldest first."""
        rows = self.rows(key, start, end, limit)
        return [row_candle(row) for row in rows]

    def rows(
        self, key: SeriesKey, start: int | None, end: int | None, limit: int | None = None
    ) -> list[CandleRow]:
        """`load` as exact rows (prices in nano-units): what `monitor history` prints."""
        if limit is not None and limit <= 0:
            return []
        lo = -(1 << 62) if start is None else start
        hi = 1 << 62 if end is None else end
        found: list[CandleRow] = self._read(
            lambda conn: conn.execute(
                "SELECT time, open, high, low, close, volume, source FROM candles WHERE series = "
                f"({_SERIES}) AND time >= ? AND time < ? ORDER BY time DESC LIMIT ?",
                (key.uid, key.interval.value, lo, hi, -1 if limit is None else limit),
            ).fetchall(),
            [],
        )
        found.reverse()
        return found

    def complete_ranges(self, key: SeriesKey) -> list[tuple[int, int]]:
        """The [start, end) ranges whose closed candles are all stored, merged, oldest first."""
        return self._read(
            lambda conn: [
                (int(a), int(b))
                for a, b in conn.execute(
                    f"SELECT start, end FROM ranges WHERE series = ({_SERIES}) ORDER BY start",
                    (key.uid, key.interval.value),
                )
            ],
            [],
        )

    def save(
        self, key: SeriesKey, candles: Sequence[Candle], complete: tuple[int, int] | None = None
    ) -> None:
        """Queues the closed ones of `candles` (and a range now known complete) for the writer."""
        if self._writer is None or self._unavailable is not None:
            return
        # Filtered here, not on the writer: the feed offers every update, and a forming one must
        # cost the receive loop no more than this check.
        if len(candles) == 1 and complete is None:  # the stream's case: one update at a time
            if candles[0].closed:
                # tuple.__new__: a NamedTuple's own __new__ costs four times as much.
                self._writer.put(_new_tuple(SaveCandles, (key, candles, None)))
            return
        closed = [c for c in candles if c.closed]
        if closed or complete is not None:
            self._writer.put(SaveCandles(key, closed, complete))

    def instrument(self, watch_id: str, max_age_s: float) -> Instrument | None:
        """The stored metadata of `watch_id`, if fetched less than `max_age_s` ago."""
        row: tuple[object, ...] | None = self._read(
            lambda conn: conn.execute(
                f"SELECT {INSTRUMENT_COLUMNS}, fetched_at FROM instruments WHERE watch_id = ?",
                (watch_id,),
            ).fetchone(),
            None,
        )
        if row is None or not isinstance(fetched := row[-1], float | int):
            return None
        if self._now() - fetched >= max_age_s:
            return None
        fields: InstrumentRow = row[:-1]  # type: ignore[assignment]  # the schema's column types
        return row_instrument(fields)

    def save_instrument(self, watch_id: str, instrument: Instrument) -> None:
        """Queues `instrument` as the metadata of `watch_id`, fetched now."""
        if self._writer is not None and self._unavailable is None:
            self._writer.put(SaveInstrument(watch_id, instrument, self._now()))

    def flush(self) -> None:
        """Waits until everything queued so far is committed (or dropped, if the store failed)."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Commits what is queued, stops the writer and closes the connections."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.stop()
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None

    # --- maintenance ---------------------------------------------------------------------------

    def write(self, run: Callable[[sqlite3.Connection], T]) -> T:
        """Runs `run` on the writer's connection after the queued writes (prune, tests)."""
        if self._writer is None:
            raise StoreUnavailable(self._unavailable or "the store is closed")
        result: T = self._writer.call(run)  # type: ignore[assignment]  # call returns run's result
        return result

    def read(self, run: Callable[[sqlite3.Connection], T]) -> T:
        """Runs `run` on the read connection (info)."""
        with self._read_lock:
            if self._reader is None:
                raise StoreUnavailable(self._unavailable or "the store is closed")
            return run(self._reader)

    def _read(self, run: Callable[[sqlite3.Connection], T], empty: T) -> T:
        with self._read_lock:
            if self._reader is None:
                return empty
            try:
                return run(self._reader)
            except sqlite3.Error as exc:
                # A read that fails (a file damaged under us) is an empty answer, said once.
                if self._unavailable is None:
                    self._unavailable = f"the store cannot be read: {describe(exc)}"
                    log.warning("store_unavailable", path=str(self.path), reason=self._unavailable)
                return empty

"""The store's one writer thread: queued writes, committed in batches of one transaction each."""

from __future__ import annotations

import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import structlog

from monitor.market import Candle, Instrument, RangeSet, SeriesKey
from monitor.store.codec import INSTRUMENT_COLUMNS, candle_row, instrument_row
from monitor.store.schema import transaction

BATCH_ITEMS = 4096
"""Most queued writes committed in one transaction (a burst is split, so flush waits stay short)."""
BATCH_WINDOW_S = 0.05
"""How long the writer lets saves gather after the first one: fewer, larger transactions take less
of the GIL from the event loop than one per streamed candle."""

BUSY_ATTEMPTS = 12
"""Busy timeouts a batch waits through (12 x 5 s) before the store gives up on another writer."""

log = structlog.get_logger("monitor.store")


class SaveCandles(NamedTuple):
    """Closed candles of one series, and a span now known complete (a tuple: the stream builds one
    per closed candle, and a tuple is built in a fraction of a frozen dataclass's time)."""

    key: SeriesKey
    candles: Sequence[Candle]
    complete: tuple[int, int] | None


class SaveInstrument(NamedTuple):
    watch_id: str
    instrument: Instrument
    fetched_at: float


@dataclass(frozen=True, slots=True)
class Barrier:
    """Set once every write queued before it is committed (or dropped, when the store failed)."""

    done: threading.Event


@dataclass(frozen=True, slots=True)
class Maintenance:
    """A function run on the writer's connection, alone (it makes its own transaction, or none)."""

    run: Callable[[sqlite3.Connection], object]
    done: threading.Event
    outcome: list[object]
    """Filled with the function's result, or the exception it raised."""


Job = SaveCandles | SaveInstrument | Barrier | Maintenance | None
"""None stops the thread."""


def series_id(conn: sqlite3.Connection, key: SeriesKey, cache: dict[SeriesKey, int]) -> int:
    """The series row of `key`, made on first use (inside the caller's transaction)."""
    found = cache.get(key)
    if found is None:
        conn.execute(
            "INSERT OR IGNORE INTO series (uid, interval) VALUES (?, ?)", (key.uid, key.interval.value)
        )
        row = conn.execute(
            "SELECT id FROM series WHERE uid = ? AND interval = ?", (key.uid, key.interval.value)
        ).fetchone()
        found = cache[key] = int(row[0])
    return found


def write_batch(conn: sqlite3.Connection, jobs: Sequence[Job], cache: dict[SeriesKey, int]) -> int:
    """Writes `jobs` in one transaction, every candle row in one executemany; returns the candles written."""
    rows: list[tuple[int, int, int, int, int, int, int, int]] = []
    try:
        with transaction(conn):
            for job in jobs:
                if isinstance(job, SaveCandles):
                    series = series_id(conn, job.key, cache)
                    rows += [(series, *candle_row(c)) for c in job.candles if c.closed]
                    if job.complete is not None and job.complete[0] < job.complete[1]:
                        _add_range(conn, series, job.complete)
                elif isinstance(job, SaveInstrument):
                    conn.execute(
                        f"INSERT OR REPLACE INTO instruments (watch_id, {INSTRUMENT_COLUMNS}, fetched_at) "
                        f"VALUES ({', '.join('?' * 13)})",
                        (job.watch_id, *instrument_row(job.instrument), job.fetched_at),
                    )
            # In queue order: a later save of the same period (a correction) replaces the earlier.
            conn.executemany("INSERT OR REPLACE INTO candles VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    except BaseException:
        cache.clear()  # series rows made in the rolled-back transaction are gone
        raise
    return len(rows)


def _add_range(conn: sqlite3.Connection, series: int, complete: tuple[int, int]) -> None:
    ranges = RangeSet(list(conn.execute("SELECT start, end FROM ranges WHERE series = ?", (series,))))
    ranges.add(*complete)
    conn.execute("DELETE FROM ranges WHERE series = ?", (series,))
    conn.executemany("INSERT INTO ranges VALUES (?, ?, ?)", [(series, a, b) for a, b in ranges])


class Writer:
    """Runs `write_batch` on a daemon thread for whatever is queued; stops on the first failure.

    A failure (disk full, read-only file, a lock held too long) calls `on_failure` once with the
    error; later writes are dropped, so the monitor goes on without the store.
    """

    def __init__(self, conn: sqlite3.Connection, on_failure: Callable[[BaseException], None]) -> None:
        self._conn = conn
        self._on_failure = on_failure
        self._queue: queue.SimpleQueue[Job] = queue.SimpleQueue()
        self._cache: dict[SeriesKey, int] = {}
        self._failed = False
        self._stop_lock = threading.Lock()
        self._stopping = False
        self.candles_written = 0
        self.batches = 0
        self.busy_seconds = 0.0
        """Thread time spent writing (the write cost per candle is this over candles_written)."""
        self._thread = threading.Thread(target=self._run, name="monitor-store-writer", daemon=True)
        self._thread.start()

    def put(self, job: Job) -> None:
        self._queue.put(job)

    def flush(self) -> None:
        done = threading.Event()
        if self._enqueue(Barrier(done)):
            done.wait()

    def stop(self) -> None:
        self._enqueue(None)
        self._thread.join()

    def call(self, run: Callable[[sqlite3.Connection], object]) -> object:
        """Runs `run(conn)` on the writer thread after everything queued; returns or raises its outcome."""
        job = Maintenance(run, threading.Event(), [])
        if not self._enqueue(job):
            raise RuntimeError("the store is closed")
        job.done.wait()
        if isinstance(job.outcome[0], BaseException):
            raise job.outcome[0]
        return job.outcome[0]

    def _enqueue(self, job: Barrier | Maintenance | None) -> bool:
        """Queues a job someone waits for, unless the thread is stopping (then none would answer)."""
        with self._stop_lock:
            if self._stopping or not self._thread.is_alive():
                return False
            self._stopping = job is None
            self._queue.put(job)
            return True

    def _run(self) -> None:
        while True:
            jobs = [self._queue.get()]
            if isinstance(jobs[0], SaveCandles | SaveInstrument):
                time.sleep(BATCH_WINDOW_S)
            while len(jobs) < BATCH_ITEMS:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            work: list[Job] = []
            for job in jobs:
                if isinstance(job, SaveCandles | SaveInstrument):
                    work.append(job)
                    continue
                # Everything queued before a barrier, a maintenance job or the stop is committed first.
                self._commit(work)
                work = []
                if isinstance(job, Barrier):
                    job.done.set()
                elif isinstance(job, Maintenance):
                    self._maintain(job)
                else:
                    self._conn.close()
                    return
            self._commit(work)

    def _maintain(self, job: Maintenance) -> None:
        try:
            job.outcome.append(job.run(self._conn))
        except Exception as exc:
            job.outcome.append(exc)
        finally:
            job.done.set()

    def _commit(self, work: list[Job]) -> None:
        if not work or self._failed:
            return
        started = time.thread_time()
        try:
            for attempt in range(1, BUSY_ATTEMPTS + 1):
                try:
                    self.candles_written += write_batch(self._conn, work, self._cache)
                    self.batches += 1
                    return
                except sqlite3.OperationalError as exc:
                    # Another monitor holds the write lock (each attempt waited the busy timeout).
                    if not getattr(exc, "sqlite_errorname", "").startswith("SQLITE_BUSY"):
                        raise
                    if attempt == BUSY_ATTEMPTS:
                        raise
                    log.info("store_busy", attempt=attempt)
        except Exception as exc:  # a row SQLite refuses too: the thread must live on
            # A dead thread would leave every later flush waiting for ever.
            self._failed = True
            self._on_failure(exc)
        finally:
            self.busy_seconds += time.thread_time() - started

"""The writer thread under failure: a full disk at commit, a COMMIT that fails, a row SQLite refuses,
another writer holding the lock, and waiting on a writer that has stopped."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
import structlog

from monitor.market import Candle, Origin
from monitor.store import CandleStore, StoreUnavailable, opening, writer
from monitor.store.schema import transaction
from tests.store.test_refusal import warnings_of
from tests.store.test_safety import KEY, child, integrity, lines
from tests.store.writer_child import BATCH, batch


def test_a_disk_filling_mid_run_keeps_every_commit_and_says_so_once(store_path: Path) -> None:
    # The file size limit makes the WAL's writes fail at commit time, as a full disk does.
    proc = child(store_path, KEY.uid, 0, max_file_bytes=300_000)
    output = list(lines(proc))
    proc.wait()
    committed = [line for line in output if line.startswith("committed")]
    assert output == [*committed, output[-1]]
    assert output[-1] == "unavailable the store stopped saving: a write to the disk failed (is it full?)"
    assert committed == [f"committed {n}" for n in range(len(committed))] and committed
    assert integrity(store_path) == "ok"
    store = CandleStore.open(store_path)
    try:
        assert store.unavailable is None
        stored = store.load(KEY, None, None, 10**9)
        assert len(stored) >= len(committed) * BATCH and len(stored) % BATCH == 0
        assert stored == [candle for n in range(len(stored) // BATCH) for candle in batch(n)]
    finally:
        store.close()


def test_a_commit_that_fails_is_rolled_back_and_the_connection_stays_usable(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "fk.sqlite3", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    conn.execute("CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError), transaction(conn):
        conn.execute("INSERT INTO child VALUES (7)")  # checked only at COMMIT, which fails
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM child").fetchone()[0] == 0
    with transaction(conn):  # a later transaction can begin
        conn.execute("INSERT INTO parent VALUES (7)")
        conn.execute("INSERT INTO child VALUES (7)")
    assert conn.execute("SELECT count(*) FROM child").fetchone()[0] == 1
    conn.close()


@pytest.mark.timeout(60)  # before the fix the writer thread died and this flush waited for ever
def test_a_row_sqlite_refuses_stops_saving_once_and_flush_still_returns(store: CandleStore) -> None:
    store.save(KEY, batch(0))
    store.flush()
    huge = Candle(60 * BATCH, 1e20, 1e20, 1e20, 1e20, 1, True, Origin.STREAM)  # beyond 64-bit nanos
    with structlog.testing.capture_logs() as logs:
        store.save(KEY, [huge])
        store.flush()
        store.save(KEY, batch(1))  # dropped quietly
        store.flush()
    assert store.unavailable is not None and store.unavailable.startswith("the store stopped saving")
    assert warnings_of(logs) == ["store_unavailable"]
    assert store.load(KEY, None, None, 10**9) == batch(0)


def test_flush_and_write_after_close_return_at_once(store: CandleStore) -> None:
    store.close()
    store.flush()  # a barrier queued behind the stop would never be answered
    with pytest.raises(StoreUnavailable):
        store.read(lambda conn: None)
    assert store.writer is not None
    with pytest.raises(RuntimeError, match="closed"):
        store.writer.call(lambda conn: None)


class BusyWatch:
    """Stands in for the writer's logger: records each busy retry and lets a test wait for one."""

    def __init__(self) -> None:
        self.retried = threading.Event()

    def info(self, event: str, **_: object) -> None:
        if event == "store_busy":
            self.retried.set()


@pytest.fixture
def short_busy(monkeypatch: pytest.MonkeyPatch) -> BusyWatch:
    monkeypatch.setattr(opening, "BUSY_TIMEOUT_MS", 20)  # each attempt waits 20 ms, not 5 s
    watch = BusyWatch()
    monkeypatch.setattr(writer, "log", watch)
    return watch


def test_the_writer_waits_out_another_writer_and_then_commits(
    store_path: Path, short_busy: BusyWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "BUSY_ATTEMPTS", 10**6)  # waits as long as the lock is held
    store = CandleStore.open(store_path)
    other = opening.connect(store_path)
    try:
        other.execute("BEGIN IMMEDIATE")
        store.save(KEY, batch(0))
        assert short_busy.retried.wait(30)  # a busy timeout passed and the writer tried again
        other.execute("COMMIT")
        store.flush()
        assert store.unavailable is None
        assert store.load(KEY, None, None, 10**9) == batch(0)
    finally:
        other.close()
        store.close()


def test_a_lock_held_too_long_stops_saving_once_and_loses_nothing_committed(
    store_path: Path, short_busy: BusyWatch, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer, "BUSY_ATTEMPTS", 2)
    store = CandleStore.open(store_path)
    other = opening.connect(store_path)
    try:
        store.save(KEY, batch(0))
        store.flush()
        other.execute("BEGIN IMMEDIATE")
        with structlog.testing.capture_logs() as logs:
            store.save(KEY, batch(1))
            store.flush()  # returns once the attempts are spent
        assert store.unavailable == "the store stopped saving: another process held the store's lock too long"
        assert warnings_of(logs) == ["store_unavailable"]
        other.execute("ROLLBACK")
    finally:
        other.close()
        store.close()
    again = CandleStore.open(store_path)
    try:
        assert again.load(KEY, None, None, 10**9) == batch(0)
    finally:
        again.close()

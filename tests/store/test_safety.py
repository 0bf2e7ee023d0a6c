"""Store safety: SIGKILL mid-write, two writers, corrupt, foreign and newer files, read-only, full disk."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from monitor.market import Candle, Interval, SeriesKey
from monitor.store import CandleStore
from monitor.store.schema import APPLICATION_ID, SCHEMA_VERSION, prepare
from tests.store.writer_child import BATCH, batch

ROOT = Path(__file__).resolve().parents[2]
KEY = SeriesKey("uid-a", Interval.M1)


def child(path: Path, uid: str, batches: int, *, max_file_bytes: int | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    limit = [] if max_file_bytes is None else [str(max_file_bytes)]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store.writer_child", str(path), uid, str(batches), *limit],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )


def run_child(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Runs `python -m tests.store.<module> ARGS` to its end (or its death), its output captured."""
    return subprocess.run(
        [sys.executable, "-m", f"tests.store.{module}", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def lines(proc: subprocess.Popen[str]) -> Iterator[str]:
    assert proc.stdout is not None
    for line in proc.stdout:
        yield line.strip()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def test_sigkill_mid_write_loses_nothing_committed(store_path: Path) -> None:
    proc = child(store_path, KEY.uid, 0)
    committed = -1
    try:
        for line in lines(proc):
            assert line.startswith("committed"), line
            committed = int(line.split()[1])
            if committed >= 15:
                break
    finally:
        proc.send_signal(signal.SIGKILL)  # while it writes the next batches
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert integrity(store_path) == "ok"
    store = CandleStore.open(store_path)
    try:
        assert store.unavailable is None
        stored = store.load(KEY, None, None, 10**9)
        reported = (committed + 1) * BATCH
        assert len(stored) >= reported  # later batches may have committed before the kill
        assert len(stored) % BATCH == 0  # a batch is one transaction: all of it or none
        expected = [candle for n in range(len(stored) // BATCH) for candle in batch(n)]
        assert stored == expected
        assert store.complete_ranges(KEY) == [(0, 60 * len(stored))]
    finally:
        store.close()


def test_two_processes_writing_one_store_do_not_corrupt_it(store_path: Path) -> None:
    procs = [child(store_path, uid, 25) for uid in ("uid-a", "uid-b")]
    outputs = [list(lines(proc)) for proc in procs]
    for proc in procs:
        proc.wait()
    for output in outputs:
        assert output[-1] == "done", output
        assert output[:-1] == [f"committed {n}" for n in range(25)]
    assert integrity(store_path) == "ok"
    store = CandleStore.open(store_path)
    try:
        for uid in ("uid-a", "uid-b"):
            assert store.load(SeriesKey(uid, Interval.M1), None, None, 10**9) == [
                candle for n in range(25) for candle in batch(n)
            ]
    finally:
        store.close()


@pytest.mark.parametrize(
    "content",
    [b"this is not a database, just text\n" * 200, b"SQLite format 3\x00" + b"\xff" * 4096],
    ids=["text", "damaged-header"],
)
def test_a_corrupt_file_is_moved_aside_and_a_fresh_store_made(store_path: Path, content: bytes) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.write_bytes(content)
    store = CandleStore.open(store_path)
    try:
        assert store.unavailable is None
        [notice] = store.notices
        asides = list(store_path.parent.glob("store.sqlite3.corrupt-*"))
        assert len(asides) == 1
        assert asides[0].read_bytes() == content  # kept as it was, for the user to look at
        assert str(asides[0]) in notice and "\n" not in notice
        store.save(KEY, batch(0))
        store.flush()
        assert len(store.load(KEY, None, None, 10**9)) == BATCH
    finally:
        store.close()


def test_a_foreign_sqlite_file_is_moved_aside(store_path: Path) -> None:
    store_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(store_path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()
    store = CandleStore.open(store_path)
    try:
        assert store.unavailable is None
        assert "not a monitor store" in store.notices[0]
        [aside] = store_path.parent.glob("store.sqlite3.corrupt-*")
        kept = sqlite3.connect(aside)
        assert kept.execute("SELECT text FROM notes").fetchall() == [("mine",)]
        kept.close()
    finally:
        store.close()


def test_a_newer_schema_is_refused_and_left_untouched(store_path: Path) -> None:
    CandleStore.open(store_path).close()
    conn = sqlite3.connect(store_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = store_path.read_bytes()
    store = CandleStore.open(store_path)
    try:
        assert store.unavailable is not None
        assert "newer" in store.unavailable and f"version {SCHEMA_VERSION + 1}" in store.unavailable
        store.save(KEY, batch(0))  # dropped, not written
        store.flush()
        assert store.load(KEY, None, None, 10) == []
    finally:
        store.close()
    assert store_path.read_bytes() == before
    assert list(store_path.parent.glob("*.corrupt-*")) == []


def test_an_older_schema_is_migrated_step_by_step(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    steps = {0: ["CREATE TABLE never (x)"], 1: ["ALTER TABLE candles ADD COLUMN trades INTEGER"]}
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        prepare(conn, version=1)  # a version 1 store, as the first monitor with a store made it
        assert prepare(conn, version=2, migrations=steps) == 1  # only the step from 1 ran
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        columns = [row[1] for row in conn.execute("PRAGMA table_info(candles)")]
        assert "trades" in columns
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'never'").fetchone()[0] == 0
        assert prepare(conn, version=2, migrations=steps) == 2  # already there: nothing runs
    finally:
        conn.close()


def read_only_dir(tmp_path: Path) -> Path:
    """A directory nothing can be created in: a 0o555 one, or /proc when running as root."""
    if os.geteuid() == 0:
        return Path("/proc/self")  # even root cannot create a file there
    place = tmp_path / "ro"
    place.mkdir()
    place.chmod(0o555)
    return place


def test_a_read_only_directory_runs_without_the_store_and_says_so_once(tmp_path: Path) -> None:
    with structlog.testing.capture_logs() as logs:
        store = CandleStore.open(read_only_dir(tmp_path) / "store.sqlite3")
        store.save(KEY, batch(0))
        store.flush()
        assert store.load(KEY, None, None, 10) == []
        store.close()
    assert store.unavailable is not None and "\n" not in store.unavailable
    assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == ["store_unavailable"]


def test_a_full_disk_stops_saving_says_so_once_and_keeps_what_was_saved(store_path: Path) -> None:
    store = CandleStore.open(store_path, max_bytes=256 * 1024)  # a cap is what a full disk looks like
    key = KEY
    try:
        with structlog.testing.capture_logs() as logs:
            n = 0
            while store.unavailable is None:
                store.save(key, batch(n))
                store.flush()
                n += 1
            for later in range(n, n + 5):  # more saves after the failure: dropped quietly
                store.save(key, batch(later))
            store.flush()
        assert "disk is full" in store.unavailable
        warnings = [entry for entry in logs if entry["log_level"] == "warning"]
        assert [entry["event"] for entry in warnings] == ["store_unavailable"]
        kept: list[Candle] = store.load(key, None, None, 10**9)
        assert kept == [candle for m in range(n - 1) for candle in batch(m)]  # the failed batch rolled back
    finally:
        store.close()
    assert integrity(store_path) == "ok"

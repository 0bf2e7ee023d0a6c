"""A migration from version 1 killed by SIGKILL at any point leaves version 1, whole; the next run
migrates it to version 2 with every row kept."""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

import pytest

from monitor.store import CandleStore
from monitor.store.schema import MIGRATIONS, SCHEMA_VERSION, prepare
from tests.store.test_safety import KEY, integrity, run_child

V1_INSTRUMENT = (
    "SBER_TQBR",
    "uid-a",
    "BBG004730N88",
    "SBER",
    "TQBR",
    "Sberbank",
    10,
    "0.01",
    "share",
    "rub",
    1.0,
)


def make_v1_store(path: Path) -> None:
    """A version 1 store (WAL mode, as the first monitor with a store made it) with rows in it."""
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    prepare(conn, version=1)
    conn.execute("INSERT INTO series (uid, interval) VALUES (?, ?)", (KEY.uid, KEY.interval.value))
    conn.execute("INSERT INTO candles VALUES (1, 0, 10, 11, 9, 10, 5, 0)")
    conn.execute(f"INSERT INTO instruments VALUES ({', '.join('?' * 11)})", V1_INSTRUMENT)
    conn.close()


def columns(conn: sqlite3.Connection) -> list[str]:
    return [row[1] for row in conn.execute("PRAGMA table_info(instruments)")]


@pytest.mark.parametrize("ran", range(len(MIGRATIONS[1]) + 1), ids=lambda n: f"after-{n}-statements")
def test_a_migration_killed_midway_leaves_version_1_whole(store_path: Path, ran: int) -> None:
    make_v1_store(store_path)
    child = run_child("migrate_child", str(store_path), str(ran))
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    assert integrity(store_path) == "ok"
    conn = sqlite3.connect(store_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert "first_1min" not in columns(conn)  # no statement of the step survived the kill
        assert conn.execute("SELECT * FROM instruments").fetchall() == [V1_INSTRUMENT]
    finally:
        conn.close()
    store = CandleStore.open(store_path)  # the next run migrates it
    try:
        assert store.unavailable is None and store.notices == []
        assert [c.time for c in store.load(KEY, None, None, 10)] == [0]
        assert store.instrument("SBER_TQBR", 1e12) is not None
    finally:
        store.close()
    conn = sqlite3.connect(store_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert {"first_1min", "first_1day"} <= set(columns(conn))
    finally:
        conn.close()

"""The store's schema, its version (PRAGMA user_version) and the migrations from older versions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress

APPLICATION_ID = 0x4D4F4E53
"""PRAGMA application_id of a monitor store ("MONS"): a SQLite file without it is someone else's."""
SCHEMA_VERSION = 2

_V1 = (
    """CREATE TABLE series (
        id INTEGER PRIMARY KEY,
        uid TEXT NOT NULL,
        interval INTEGER NOT NULL,
        UNIQUE (uid, interval)
    )""",
    # Prices are integer nano-units (exact: units * 1e9 + nano); source 0 = stream, 1 = history.
    """CREATE TABLE candles (
        series INTEGER NOT NULL REFERENCES series (id),
        time INTEGER NOT NULL,
        open INTEGER NOT NULL,
        high INTEGER NOT NULL,
        low INTEGER NOT NULL,
        close INTEGER NOT NULL,
        volume INTEGER NOT NULL,
        source INTEGER NOT NULL,
        PRIMARY KEY (series, time)
    ) WITHOUT ROWID""",
    # [start, end) spans whose every closed candle is in `candles` (a span without trades is empty).
    """CREATE TABLE ranges (
        series INTEGER NOT NULL REFERENCES series (id),
        start INTEGER NOT NULL,
        end INTEGER NOT NULL,
        PRIMARY KEY (series, start)
    ) WITHOUT ROWID""",
    """CREATE TABLE instruments (
        watch_id TEXT PRIMARY KEY,
        uid TEXT NOT NULL,
        figi TEXT NOT NULL,
        ticker TEXT NOT NULL,
        class_code TEXT NOT NULL,
        name TEXT NOT NULL,
        lot INTEGER NOT NULL,
        price_step TEXT NOT NULL,
        kind TEXT NOT NULL,
        currency TEXT NOT NULL,
        fetched_at REAL NOT NULL
    )""",
)

_V2 = (
    # Where each instrument's history starts (epoch s; NULL: unknown), so a warm start that takes
    # the instrument from the store still knows where scroll-back ends.
    "ALTER TABLE instruments ADD COLUMN first_1min INTEGER",
    "ALTER TABLE instruments ADD COLUMN first_1day INTEGER",
)

MIGRATIONS: Mapping[int, Sequence[str]] = {0: _V1, 1: _V2}
"""Statements that take a store from version N to N + 1; version 0 is a new, empty file."""


class SchemaError(Exception):
    """The file cannot be used as this version's store; `foreign` says it is not a store at all."""

    def __init__(self, message: str, *, foreign: bool = False) -> None:
        super().__init__(message)
        self.foreign = foreign


def check(conn: sqlite3.Connection, *, version: int = SCHEMA_VERSION) -> int:
    """Checks the file's identity and version with reads only; returns the version found.

    Raises:
        SchemaError: a foreign SQLite file (tables, but not ours), or a newer schema.
        sqlite3.DatabaseError: the file is not a database (corrupt).
    """
    found = _pragma(conn, "user_version")
    app = _pragma(conn, "application_id")
    if app != APPLICATION_ID:
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if tables or found:
            raise SchemaError("not a monitor store (a different SQLite database)", foreign=True)
    if found > version:
        raise SchemaError(
            f"the store has schema version {found}, newer than this monitor's {version}: "
            "it was written by a newer monitor and is left as it is"
        )
    return found


def prepare(
    conn: sqlite3.Connection,
    *,
    version: int = SCHEMA_VERSION,
    migrations: Mapping[int, Sequence[str]] = MIGRATIONS,
) -> int:
    """Checks the file (`check`) and migrates it to `version`; returns the version found.

    Each step runs in its own transaction, so a crash mid-migration leaves the previous version;
    the connection must be in autocommit mode (isolation_level=None).

    Raises:
        SchemaError: a foreign SQLite file, or a newer schema (never touched).
        sqlite3.DatabaseError: the file is not a database (corrupt).
    """
    found = check(conn, version=version)
    while _pragma(conn, "user_version") < version:  # at the version: no write lock needed
        # Re-read under the write lock: another process may have migrated the file meanwhile.
        with transaction(conn):
            step = _pragma(conn, "user_version")
            if step >= version:
                return found
            for statement in migrations[step]:
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {step + 1}")
    return found


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT: takes the write lock up front, so a busy store waits, not fails."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        # Inside the try: a COMMIT that fails (a full disk, a deferred constraint) can leave the
        # transaction open, and the connection's next BEGIN would fail for good.
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with suppress(sqlite3.Error):  # the first error is the one to report
                conn.execute("ROLLBACK")
        raise


def _pragma(conn: sqlite3.Connection, name: str) -> int:
    return int(conn.execute(f"PRAGMA {name}").fetchone()[0])

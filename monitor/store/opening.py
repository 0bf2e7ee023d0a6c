"""Opening the store file: WAL mode, busy timeout, schema checks, and moving a bad file aside."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from monitor.store.schema import SchemaError, prepare

BUSY_TIMEOUT_MS = 5_000
"""How long a connection waits for another process's write lock before the write fails."""
_CORRUPT = {"SQLITE_NOTADB", "SQLITE_CORRUPT"}
_SIDECARS = ("-wal", "-shm")

log = structlog.get_logger("monitor.store")


class StoreUnavailable(Exception):
    """The store cannot be used; the message is the one-line reason shown to the user."""


@dataclass
class Opened:
    """A store's writer connection, and the one-line notices its opening produced."""

    conn: sqlite3.Connection
    notices: list[str] = field(default_factory=list)


def connect(path: Path, *, read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit) with the busy timeout set."""
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if read_only:
        conn.execute("PRAGMA query_only = 1")
    return conn


def open_writer(path: Path, max_bytes: int | None = None) -> Opened:
    """Opens (or makes) the store at `path` for writing, at the current schema.

    A corrupt or foreign file is renamed to `<path>.corrupt-<UTC time>` and a fresh store made.

    Raises:
        StoreUnavailable: a newer schema, or the file or its directory cannot be written.
    """
    notices: list[str] = []
    for attempt in range(2):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = connect(path)
        except (OSError, ValueError, sqlite3.Error) as exc:  # ValueError: a NUL byte in the path
            raise StoreUnavailable(f"cannot open the store at {path}: {describe(exc)}") from None
        try:
            _setup(conn, max_bytes)
            return Opened(conn, notices)
        except SchemaError as exc:
            conn.close()
            if not exc.foreign or attempt:
                raise StoreUnavailable(f"{path}: {exc}") from None
            reason = str(exc)
        except sqlite3.Error as exc:
            conn.close()
            if getattr(exc, "sqlite_errorname", "") not in _CORRUPT or attempt:
                raise StoreUnavailable(f"cannot use the store at {path}: {describe(exc)}") from None
            reason = f"unreadable ({exc})"
        aside = move_aside(path)
        notice = f"the store at {path} was {reason}; moved it to {aside} and started a fresh one"
        log.warning("store_moved_aside", path=str(path), aside=str(aside), reason=reason)
        notices.append(notice)
    raise AssertionError("unreachable")  # pragma: no cover  # the second attempt returns or raises


def _setup(conn: sqlite3.Connection, max_bytes: int | None) -> None:
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise sqlite3.OperationalError(f"the store cannot use WAL mode (journal mode {mode})")
    # NORMAL in WAL mode: a commit survives a crash of the process (SIGKILL); only a power cut can
    # lose the last commits, and never corrupts the file.
    conn.execute("PRAGMA synchronous = NORMAL")
    prepare(conn)
    if max_bytes is not None:
        page = int(conn.execute("PRAGMA page_size").fetchone()[0])
        conn.execute(f"PRAGMA max_page_count = {max(1, max_bytes // page)}")


def move_aside(path: Path) -> Path:
    """Renames the store and its WAL files to `<name>.corrupt-<UTC time>`; returns the new name."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, aside)
    for suffix in _SIDECARS:
        with contextlib.suppress(FileNotFoundError):
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    return aside


def describe(exc: BaseException) -> str:
    """A store failure in words: "the disk is full", "read-only", or the error's own message."""
    name = getattr(exc, "sqlite_errorname", "")
    if name == "SQLITE_FULL":
        return "the disk is full"
    if name.startswith("SQLITE_READONLY") or isinstance(exc, PermissionError):
        return "read-only (no permission to write)"
    if name.startswith("SQLITE_BUSY"):
        return "another process held the store's lock too long"
    if name.startswith("SQLITE_CANTOPEN"):
        return "cannot create or open the file (is its directory writable?)"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)

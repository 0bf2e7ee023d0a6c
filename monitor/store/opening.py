"""Opening the store file: WAL mode, busy timeout, schema checks, and moving a bad file aside."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from monitor.store.inspection import BUSY_TIMEOUT_MS, StoreUnavailable, inspect_file
from monitor.store.schema import SchemaError, check, prepare

_CORRUPT = {"SQLITE_NOTADB", "SQLITE_CORRUPT"}
_SIDECARS = ("-wal", "-shm", "-journal")
"""Files SQLite keeps beside the store: moved with it, or a fresh store would replay them."""

log = structlog.get_logger("monitor.store")


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

    An existing file is checked read-only before anything writes to it, so a file that is refused
    (a newer schema) stays byte for byte as it was. A corrupt or foreign file is renamed to
    `<path>.corrupt-<UTC time>` (with its journal files) and a fresh store made; an empty file
    becomes a fresh store in place. Each of these is one notice.

    Raises:
        StoreUnavailable: a newer schema, a directory or unfinished transaction at the path, or
            the file or its directory cannot be written.
    """
    notices: list[str] = []
    for attempt in range(2):
        try:
            empty = inspect_file(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = connect(path)
        except (SchemaError, sqlite3.Error) as exc:
            reason = _reason_to_move_aside(path, exc, retried=attempt > 0)
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
            raise StoreUnavailable(f"cannot open the store at {path}: {describe(exc)}") from None
        else:
            try:
                _setup(conn, max_bytes)
            except (SchemaError, sqlite3.Error) as exc:
                conn.close()
                reason = _reason_to_move_aside(path, exc, retried=attempt > 0)
            else:
                if empty:
                    notices.append(f"the store at {path} was an empty file; started a fresh store in it")
                    log.warning("store_was_empty", path=str(path))
                return Opened(conn, notices)
        try:
            aside = move_aside(path)
        except FileNotFoundError:
            continue  # another monitor moved it aside first: its fresh store is the one to open
        except OSError as exc:
            raise StoreUnavailable(
                f"the store at {path} is {reason}; cannot move it aside: {describe(exc)}"
            ) from None
        notice = f"the store at {path} was {reason}; moved it to {aside} and started a fresh one"
        log.warning("store_moved_aside", path=str(path), aside=str(aside), reason=reason)
        notices.append(notice)
    raise AssertionError("unreachable")  # pragma: no cover  # the second attempt returns or raises


def _reason_to_move_aside(path: Path, exc: SchemaError | sqlite3.Error, *, retried: bool) -> str:
    """Why a corrupt or foreign file is moved aside; raises StoreUnavailable for any other failure."""
    if isinstance(exc, SchemaError):
        if not exc.foreign or retried:
            raise StoreUnavailable(f"{path}: {exc}") from None
        return str(exc)
    if getattr(exc, "sqlite_errorname", "") not in _CORRUPT or retried:
        raise StoreUnavailable(f"cannot use the store at {path}: {describe(exc)}") from None
    return f"unreadable ({exc})"


def _setup(conn: sqlite3.Connection, max_bytes: int | None) -> None:
    # Reads first: switching to WAL rewrites the header of a file in rollback-journal mode, so
    # nothing is written before the file is known to be ours at a version this monitor can use.
    check(conn)
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
    if name == "SQLITE_IOERR_WRITE":  # a short write (a size limit), or EFBIG / EIO from the disk
        return "a write to the disk failed (is it full?)"
    if name == "SQLITE_READONLY_ROLLBACK":
        return (
            "it has an unfinished transaction (a hot journal beside it) of the program that last "
            "wrote it; left as it is"
        )
    if name.startswith("SQLITE_READONLY") or isinstance(exc, PermissionError):
        return "read-only (no permission to write)"
    if name.startswith("SQLITE_BUSY"):
        return "another process held the store's lock too long"
    if name.startswith("SQLITE_CANTOPEN"):
        return "cannot create or open the file (is its directory writable?)"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)

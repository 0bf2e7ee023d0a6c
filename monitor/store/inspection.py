"""Looking at an existing store file before opening it for writing: with reads only, never a write."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path
from urllib.parse import quote

from monitor.store.schema import SchemaError, check

BUSY_TIMEOUT_MS = 5_000
"""How long a connection waits for another process's write lock before the write fails."""
_MAGIC = b"SQLite format 3\x00"
_WAL_FORMAT = 2
"""Header bytes 18 and 19 (the file format's write and read versions): 2 in WAL mode."""
_JOURNALS = ("-wal", "-journal")


class StoreUnavailable(Exception):
    """The store cannot be used; the message is the one-line reason shown to the user."""


def inspect_file(path: Path) -> bool:
    """Checks the file at `path` (if any) read-only; True if it is an empty file (a fresh store).

    A file in rollback-journal mode is checked on a read-only connection: opening it for writing
    would switch its header to WAL before the check could refuse it. A file already in WAL mode is
    checked on the writer's connection before its first write (a read-only one would leave its
    -wal and -shm files behind).

    Raises:
        StoreUnavailable: a directory or other non-file at the path.
        SchemaError: a foreign SQLite file (or an empty one beside a journal), or a newer schema.
        sqlite3.Error: a corrupt file (SQLITE_NOTADB), or one with a hot journal
            (SQLITE_READONLY_ROLLBACK: only the program that wrote it should finish it).
        OSError: the file cannot be read.
    """
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(found.st_mode):
        raise StoreUnavailable(f"cannot use the store at {path}: it is a directory, not a file")
    if not stat.S_ISREG(found.st_mode):
        raise StoreUnavailable(f"cannot use the store at {path}: it is not a regular file")
    if found.st_size == 0:
        if any(_size(f"{path}{suffix}") for suffix in _JOURNALS):
            # A fresh store made here would replay the journal of whatever file this was.
            raise SchemaError("an empty file beside a leftover journal", foreign=True)
        return True
    with open(path, "rb") as file:
        header = file.read(20)
    if header.startswith(_MAGIC) and header[18] == header[19] == _WAL_FORMAT:
        return False
    uri = f"file:{quote(str(path))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        check(conn)
    finally:
        conn.close()
    return False


def _size(name: str) -> int:
    try:
        return os.stat(name).st_size
    except OSError:
        return 0

"""Files the store refuses or moves aside are never written first: newer, foreign, corrupt, empty,
hot-journal files and a directory at the store's path."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
from collections.abc import Iterator, MutableMapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import structlog

from monitor.store import CandleStore, opening
from monitor.store.schema import SCHEMA_VERSION
from tests.store.test_safety import KEY, run_child
from tests.store.writer_child import BATCH, batch

ROLLBACK_FORMAT, WAL_FORMAT = 1, 2
"""Header bytes 18 and 19 of a file in rollback-journal mode, and in WAL mode."""


def snapshot(directory: Path) -> dict[str, bytes | None]:
    """Every entry of `directory` and the bytes of each file (None: a directory)."""
    return {p.name: None if p.is_dir() else p.read_bytes() for p in sorted(directory.iterdir())}


def warnings_of(logs: Sequence[MutableMapping[str, Any]]) -> list[object]:
    """The events logged at warning level (what the user would be told, once each)."""
    return [entry["event"] for entry in logs if entry["log_level"] == "warning"]


def make_store(path: Path, *, journal_mode: str, user_version: int | None = None) -> None:
    """A monitor store at `path` holding one batch, left in `journal_mode`, at `user_version`."""
    store = CandleStore.open(path)
    store.save(KEY, batch(0))
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    if user_version is not None:
        conn.execute(f"PRAGMA user_version = {user_version}")
    conn.close()


def assert_works(store: CandleStore) -> None:
    assert store.unavailable is None
    store.save(KEY, batch(1))
    store.flush()
    assert store.load(KEY, None, None, 10**9) == batch(1)


@pytest.mark.parametrize("journal_mode", ["DELETE", "WAL"])
def test_a_newer_schema_is_refused_with_its_bytes_mode_and_files_unchanged(
    store_path: Path, journal_mode: str
) -> None:
    make_store(store_path, journal_mode=journal_mode, user_version=SCHEMA_VERSION + 1)
    before = snapshot(store_path.parent)
    assert list(before) == [store_path.name]  # no -wal, -shm or -journal beside it
    with structlog.testing.capture_logs() as logs:
        store = CandleStore.open(store_path)
        store.save(KEY, batch(1))  # dropped, not written
        store.flush()
        store.close()
    assert store.unavailable is not None and "\n" not in store.unavailable
    assert f"schema version {SCHEMA_VERSION + 1}, newer than this monitor's" in store.unavailable
    assert warnings_of(logs) == ["store_unavailable"]
    assert snapshot(store_path.parent) == before
    header = store_path.read_bytes()[18:20]
    assert header == bytes([ROLLBACK_FORMAT if journal_mode == "DELETE" else WAL_FORMAT] * 2)


def foreign(path: Path) -> bytes:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.execute("INSERT INTO notes VALUES ('mine')")
    conn.commit()
    conn.close()
    return path.read_bytes()


def corrupt(path: Path) -> bytes:
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    return path.read_bytes()


@pytest.mark.parametrize("make", [foreign, corrupt], ids=["foreign-rollback-mode", "corrupt"])
def test_a_foreign_or_corrupt_file_is_moved_aside_byte_identical(store_path: Path, make: object) -> None:
    store_path.parent.mkdir(parents=True)
    assert callable(make)
    content = make(store_path)
    with structlog.testing.capture_logs() as logs:
        store = CandleStore.open(store_path)
    try:
        assert_works(store)
        [notice] = store.notices
        [aside] = store_path.parent.glob("store.sqlite3.corrupt-*")  # and no -wal or -shm of it
        assert aside.read_bytes() == content
        assert str(aside) in notice and "\n" not in notice
        assert warnings_of(logs) == ["store_moved_aside"]
    finally:
        store.close()


def test_an_empty_file_becomes_a_fresh_store_said_once(store_path: Path) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.touch()  # as `touch` or an interrupted copy leaves it: nothing in it to keep
    store = CandleStore.open(store_path)
    try:
        assert_works(store)
        assert store.notices == [f"the store at {store_path} was an empty file; started a fresh store in it"]
        assert list(store_path.parent.glob("*.corrupt-*")) == []
    finally:
        store.close()
    again = CandleStore.open(store_path)
    try:
        assert again.notices == []  # said once: the next run finds a store
        assert again.load(KEY, None, None, 10**9) == batch(1)
    finally:
        again.close()


def test_an_empty_file_beside_a_leftover_journal_is_moved_aside_with_it(store_path: Path) -> None:
    store_path.parent.mkdir(parents=True)
    store_path.touch()
    journal = store_path.with_name(f"{store_path.name}-journal")
    leftover = b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7" + b"\x00" * 504  # a journal's magic
    journal.write_bytes(leftover)
    store = CandleStore.open(store_path)
    try:
        assert_works(store)
        assert "empty file beside a leftover journal" in store.notices[0]
        [aside] = store_path.parent.glob("store.sqlite3.corrupt-*[0-9Z]")
        assert aside.with_name(f"{aside.name}-journal").read_bytes() == leftover
    finally:
        store.close()


def hot_journal(path: Path) -> None:
    """A SQLite file in rollback mode with a hot journal: the copy of one mid-transaction."""
    scratch = path.with_name("scratch.sqlite3")
    conn = sqlite3.connect(scratch, isolation_level=None)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.execute("PRAGMA cache_size = 1")  # spill to the file mid-transaction, so the journal matters
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO notes VALUES (?)", [("x" * 500,)] * 500)
    shutil.copy(scratch, path)
    shutil.copy(f"{scratch}-journal", f"{path}-journal")
    conn.execute("ROLLBACK")
    conn.close()
    scratch.unlink()


def test_a_file_with_a_hot_journal_is_refused_and_left_as_it_is(store_path: Path) -> None:
    store_path.parent.mkdir(parents=True)
    hot_journal(store_path)
    before = snapshot(store_path.parent)
    store = CandleStore.open(store_path)
    store.close()
    assert store.unavailable is not None and "unfinished transaction" in store.unavailable
    assert snapshot(store_path.parent) == before


def test_a_directory_at_the_store_path_is_refused_and_left_alone(store_path: Path) -> None:
    store_path.mkdir(parents=True)
    (store_path / "kept.txt").write_text("mine")
    with structlog.testing.capture_logs() as logs:
        store = CandleStore.open(store_path)
        store.save(KEY, batch(0))
        store.flush()
        store.close()
    assert store.unavailable == f"cannot use the store at {store_path}: it is a directory, not a file"
    assert warnings_of(logs) == ["store_unavailable"]
    assert snapshot(store_path.parent) == {store_path.name: None}
    assert snapshot(store_path) == {"kept.txt": b"mine"}


def test_an_older_store_in_rollback_mode_is_taken_into_wal_mode(store_path: Path) -> None:
    make_store(store_path, journal_mode="DELETE")  # ours, at this version: switching it is safe
    store = CandleStore.open(store_path)
    try:
        assert store.unavailable is None and store.notices == []
        assert store.load(KEY, None, None, 10**9) == batch(0)
        assert len(batch(0)) == BATCH
    finally:
        store.close()
    assert store_path.read_bytes()[18:20] == bytes([WAL_FORMAT] * 2)


def test_a_fifo_at_the_store_path_is_refused_without_opening_it(store_path: Path) -> None:
    store_path.parent.mkdir(parents=True)
    os.mkfifo(store_path)  # opening it would block until a writer came
    store = CandleStore.open(store_path)
    store.close()
    assert store.unavailable == f"cannot use the store at {store_path}: it is not a regular file"
    assert stat.S_ISFIFO(os.stat(store_path).st_mode)


def test_a_file_another_monitor_moved_aside_first_is_not_reported_twice(
    store_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_path.parent.mkdir(parents=True)
    content = corrupt(store_path)
    move_aside = opening.move_aside

    def beaten_to_it(path: Path) -> Path:
        move_aside(path)  # the other monitor, opening the same corrupt file at the same moment
        return move_aside(path)  # this one: the file is gone

    monkeypatch.setattr(opening, "move_aside", beaten_to_it)
    store = CandleStore.open(store_path)
    try:
        assert_works(store)
        assert store.notices == []  # the other monitor said it
        [aside] = store_path.parent.glob("store.sqlite3.corrupt-*")
        assert aside.read_bytes() == content
    finally:
        store.close()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory the readonly child can reach (as `nobody` when the tests run as root)."""
    place = Path(tempfile.mkdtemp(prefix="monitor-ro-"))
    place.chmod(0o755)
    yield place
    for directory in (place, *(p for p in place.rglob("*") if p.is_dir())):
        directory.chmod(0o755)
    shutil.rmtree(place)


@pytest.mark.parametrize("journal_mode", ["DELETE", "WAL"])
def test_a_store_in_a_read_only_directory_is_refused_and_left_as_it_is(
    shared_dir: Path, journal_mode: str
) -> None:
    path = shared_dir / "data" / "store.sqlite3"
    make_store(path, journal_mode=journal_mode)
    path.chmod(0o666)  # the file itself writable: only the directory is read-only
    path.parent.chmod(0o555)
    before = snapshot(path.parent)
    child = run_child("readonly_child", str(path))
    assert child.returncode == 0, child.stderr
    reason = child.stdout.strip()
    assert reason == f"cannot use the store at {path}: read-only (no permission to write)"
    assert snapshot(path.parent) == before

"""CandleStore as the feed's CandleCache: closed candles, complete ranges, instruments, queued writes."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from monitor.market import Candle, Instrument, Interval, Origin, SeriesKey
from monitor.store import CandleStore
from monitor.store.opening import connect

KEY = SeriesKey("uid-1", Interval.M1)
OTHER = SeriesKey("uid-1", Interval.H1)
SBER = Instrument("uid-1", "BBG004730N88", "SBER", "TQBR", "Sberbank", 10, Decimal("0.01"))


def candles(start: int, count: int, *, closed: bool = True, origin: Origin = Origin.BACKFILL) -> list[Candle]:
    return [
        Candle(start + 60 * i, 100.0 + i, 101.5 + i, 99.25 + i, 100.75 + i, 10 + i, closed, origin)
        for i in range(count)
    ]


def test_saved_closed_candles_load_back_equal_ascending(store: CandleStore) -> None:
    saved = candles(6000, 20)
    store.save(KEY, saved)
    store.flush()
    assert store.load(KEY, None, None, 100) == saved


def test_load_is_the_newest_limit_in_the_half_open_range_ascending(store: CandleStore) -> None:
    saved = candles(6000, 20)
    store.save(KEY, saved)
    store.flush()
    assert store.load(KEY, 6000 + 60 * 5, 6000 + 60 * 15, 3) == saved[12:15]
    assert store.load(KEY, None, 6000 + 60 * 2, 100) == saved[:2]
    assert store.load(KEY, 6000 + 60 * 18, None, 100) == saved[18:]
    assert store.load(KEY, None, None, 0) == []


def test_only_closed_candles_are_stored(store: CandleStore) -> None:
    store.save(KEY, [*candles(6000, 3), *candles(6180, 1, closed=False)])
    store.flush()
    assert [c.time for c in store.load(KEY, None, None, 10)] == [6000, 6060, 6120]


def test_a_saved_candle_replaces_the_stored_one_of_its_period(store: CandleStore) -> None:
    store.save(KEY, candles(6000, 2, origin=Origin.STREAM))
    corrected = candles(6000, 1)[0]._replace(close=100.5)
    store.save(KEY, [corrected])
    store.flush()
    loaded = store.load(KEY, None, None, 10)
    assert loaded[0] == corrected
    assert loaded[1].origin is Origin.STREAM


def test_series_are_kept_apart_by_interval_and_uid(store: CandleStore) -> None:
    store.save(KEY, candles(6000, 2))
    store.save(OTHER, candles(7200, 1))
    store.flush()
    assert len(store.load(KEY, None, None, 10)) == 2
    assert [c.time for c in store.load(OTHER, None, None, 10)] == [7200]
    assert store.load(SeriesKey("uid-2", Interval.M1), None, None, 10) == []


def test_complete_ranges_merge_and_sort(store: CandleStore) -> None:
    store.save(KEY, [], (600, 1200))
    store.save(KEY, [], (0, 300))
    store.save(KEY, candles(1200, 5), (1200, 1500))
    store.save(KEY, [], (5000, 5000))  # empty: ignored
    store.flush()
    assert store.complete_ranges(KEY) == [(0, 300), (600, 1500)]
    assert store.complete_ranges(OTHER) == []


def test_instrument_is_answered_while_younger_than_max_age(store_path: Path) -> None:
    now = [1_000.0]
    store = CandleStore.open(store_path, now=lambda: now[0])
    try:
        store.save_instrument("SBER_TQBR", SBER)
        store.flush()
        now[0] += 59
        assert store.instrument("SBER_TQBR", 60) == SBER
        now[0] += 1
        assert store.instrument("SBER_TQBR", 60) is None
        assert store.instrument("GAZP_TQBR", 1e9) is None
    finally:
        store.close()


def test_everything_survives_close_and_reopen(store_path: Path) -> None:
    store = CandleStore.open(store_path)
    store.save(KEY, candles(6000, 4), (6000, 6240))
    store.save_instrument("SBER_TQBR", SBER)
    store.close()  # commits what is queued
    again = CandleStore.open(store_path)
    try:
        assert again.load(KEY, None, None, 10) == candles(6000, 4)
        assert again.complete_ranges(KEY) == [(6000, 6240)]
        assert again.instrument("SBER_TQBR", 1e12) == SBER
    finally:
        again.close()


def test_save_only_queues_even_while_another_writer_holds_the_lock(
    store: CandleStore, store_path: Path
) -> None:
    # If save wrote on the caller's thread it would wait here for the lock (and the test would time out).
    other = connect(store_path)
    other.execute("BEGIN IMMEDIATE")
    store.save(KEY, candles(6000, 3))
    store.save_instrument("SBER_TQBR", SBER)
    assert store.load(KEY, None, None, 10) == []  # not committed yet: the writer waits for the lock
    other.execute("COMMIT")
    other.close()
    store.flush()
    assert len(store.load(KEY, None, None, 10)) == 3


def test_writes_are_batched_into_few_transactions(store: CandleStore) -> None:
    other = connect(store.path)
    other.execute("BEGIN IMMEDIATE")  # holds the writer back while 300 saves queue up
    for i in range(300):
        store.save(KEY, candles(6000 + 60 * i, 1))
    other.execute("COMMIT")
    other.close()
    store.flush()
    writer = store.writer
    assert writer is not None
    assert writer.candles_written == 300
    assert writer.batches <= 3


def test_the_file_is_in_wal_mode_with_the_schema_version(store: CandleStore) -> None:
    conn = sqlite3.connect(store.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        conn.close()


def test_a_disabled_store_answers_empty_and_drops_writes(tmp_path: Path) -> None:
    store = CandleStore.disabled(tmp_path / "x.sqlite3", "off")
    store.save(KEY, candles(6000, 2), (6000, 6120))
    store.save_instrument("SBER_TQBR", SBER)
    store.flush()
    assert store.unavailable == "off"
    assert store.load(KEY, None, None, 10) == []
    assert store.complete_ranges(KEY) == []
    assert store.instrument("SBER_TQBR", 1e9) is None
    store.close()
    assert not (tmp_path / "x.sqlite3").exists()

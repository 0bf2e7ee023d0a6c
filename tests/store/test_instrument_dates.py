"""The store keeps the instruments' first candle dates (schema version 2), and migrates a version 1 file."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

from monitor.market import Instrument
from monitor.store import CandleStore
from monitor.store.schema import SCHEMA_VERSION, prepare

DATED = Instrument(
    "uid-sber", "BBG004730N88", "SBER", "TQBR", "Sberbank", 10, Decimal("0.01"),
    first_1min=1_520_000_000, first_1day=946_684_800,
)  # fmt: skip


def _saved_and_read(path: Path, instrument: Instrument) -> Instrument | None:
    store = CandleStore.open(path)
    store.save_instrument("SBER_TQBR", instrument)
    store.close()
    again = CandleStore.open(path)
    try:
        return again.instrument("SBER_TQBR", 1e12)
    finally:
        again.close()


def test_first_candle_dates_survive_a_restart(tmp_path: Path) -> None:
    found = _saved_and_read(tmp_path / "store.sqlite3", DATED)
    assert found == DATED
    assert found is not None and (found.first_1min, found.first_1day) == (1_520_000_000, 946_684_800)


def test_unknown_first_candle_dates_stay_unknown(tmp_path: Path) -> None:
    undated = Instrument("uid-x", "F", "X", "TQBR", "X", 1, Decimal("0.5"))
    found = _saved_and_read(tmp_path / "store.sqlite3", undated)
    assert found is not None and (found.first_1min, found.first_1day) == (None, None)


def test_a_version_1_store_is_migrated_keeping_its_instruments(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        prepare(conn, version=1)
        conn.execute(
            "INSERT INTO instruments VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "SBER_TQBR",
                "uid-sber",
                "BBG004730N88",
                "SBER",
                "TQBR",
                "Sberbank",
                10,
                "0.01",
                "share",
                "rub",
                1e12,
            ),
        )
    finally:
        conn.close()
    store = CandleStore.open(path)
    try:
        assert store.unavailable is None
        kept = store.instrument("SBER_TQBR", 1e12)
        assert kept is not None and kept.uid == "uid-sber" and kept.price_step == Decimal("0.01")
        assert (kept.first_1min, kept.first_1day) == (None, None)  # not known before the migration
    finally:
        store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
        columns = [row[1] for row in conn.execute("PRAGMA table_info(instruments)")]
        assert columns[-2:] == ["first_1min", "first_1day"]
    finally:
        conn.close()
    # Dates saved after the migration are kept.
    found = _saved_and_read(path, DATED)
    assert found is not None and found.first_1min == DATED.first_1min

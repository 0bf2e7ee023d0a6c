"""Fixtures for store tests: a fresh store file in a temporary directory, closed after the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.store import CandleStore


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "store.sqlite3"


@pytest.fixture
def store(store_path: Path) -> Iterator[CandleStore]:
    opened = CandleStore.open(store_path)
    assert opened.unavailable is None
    yield opened
    opened.close()

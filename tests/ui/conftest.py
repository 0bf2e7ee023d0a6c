"""Fixtures for the UI tests: a FakeFeed on a ManualClock, a watchlist file with comments, the app."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.feed.testing import FakeFeed, ManualClock
from monitor.settings import Settings
from monitor.ui.app import MonitorApp, make_app
from monitor.watchlist import load_watchlists
from tests.ui.uikit import START, WATCHLIST, AppFactory, RenderCounts


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    """A blinking cursor would make snapshots flaky."""
    from textual.widgets import Input

    monkeypatch.setattr(Input, "cursor_blink", False)


@pytest.fixture
def watchlist_file(tmp_path: Path) -> Path:
    path = tmp_path / "watchlist.toml"
    path.write_text(WATCHLIST, encoding="utf-8")
    return path


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def feed(clock: ManualClock) -> FakeFeed:
    return FakeFeed(clock=clock)


@pytest.fixture
def make(watchlist_file: Path, feed: FakeFeed, clock: ManualClock) -> AppFactory:
    """Builds the app the way the CLI does, on the fake feed; keyword args become `ui` settings."""

    def build(**ui: object) -> MonitorApp:
        settings = Settings.model_validate({"ui": ui}) if ui else Settings()
        return make_app(
            settings,
            load_watchlists(watchlist_file),
            watchlist_file,
            feed,
            clock,
            watch_file=False,
            search_debounce=0.0,
        )

    return build


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> RenderCounts:
    """Counts chart and title-line builds per panel (the panels keep no counters of their own)."""
    return RenderCounts(monkeypatch)

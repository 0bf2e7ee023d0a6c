"""Helpers for the TUI alert tests: a watchlist with alert rules and an app built with alert settings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from monitor.feed.testing import FakeFeed, ManualClock
from monitor.settings import Settings
from monitor.ui.alerting import AlertDelivery
from monitor.ui.app import MonitorApp, make_app
from monitor.ui.screens.add_alert import AddAlertScreen
from monitor.ui.screens.alerts import AlertLogScreen
from monitor.watchlist import load_watchlists
from tests.ui.uikit import MAIN, SIZE, WATCHLIST, fill, settle, wait_for

SBER = "SBER_TQBR"
RULES = """\
alerts = [
    { instrument = "SBER_TQBR", when = "price above 105", note = "breakout" },  # the one to watch
    { instrument = "GAZP_TQBR", when = "price below 90", mode = "rearm" },
]
"""
WITH_ALERTS = WATCHLIST.replace('\n[[lists]]\nname = "second"', f'{RULES}\n[[lists]]\nname = "second"')
SBER_RULE = "SBER_TQBR-price-above-105"
GAZP_RULE = "GAZP_TQBR-price-below-90"


def alert_app(path: Path, feed: FakeFeed, clock: ManualClock, **alerts: object) -> MonitorApp:
    """The app on `feed`, reading `path`, with `alerts` as the `[alerts]` settings."""
    settings = Settings.model_validate({"alerts": alerts}) if alerts else Settings()
    return make_app(settings, load_watchlists(path), path, feed, clock, watch_file=False, search_debounce=0.0)


def delivery(app: MonitorApp) -> AlertDelivery:
    return app.alerting


def toasts(app: MonitorApp) -> list[str]:
    """Every notification's title and message, as one line each."""
    return [f"{n.title} {n.message}" for n in app._notifications]


async def cross(pilot: Pilot[int], app: MonitorApp, feed: FakeFeed, price: float = 106.5) -> None:
    """SBER's last price from below 105 (the rule's baseline) to `price`; waits for the fire."""
    feed.set_price(SBER, 100.0)
    feed.set_price(SBER, price)
    await wait_for(pilot, lambda: bool(app.alerting.engine.recent))
    await pilot.pause()  # the toast is a message of its own


def alerts_setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The watchlist with rules in `tmp_path`; the alert state files go there too, never the user's."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = tmp_path / "watchlist.toml"
    path.write_text(WITH_ALERTS, encoding="utf-8")
    return path


async def open_log(pilot: Pilot[int], app: MonitorApp) -> AlertLogScreen:
    """Presses L and returns the alert log once it is up."""
    await pilot.press("L")
    await wait_for(pilot, lambda: isinstance(app.screen, AlertLogScreen))
    shown = app.screen
    assert isinstance(shown, AlertLogScreen)
    return shown


async def open_add(pilot: Pilot[int], app: MonitorApp) -> tuple[AddAlertScreen, Input]:
    """Presses A and returns the add-alert dialog and its level field once it is up."""
    await pilot.press("A")
    await wait_for(pilot, lambda: isinstance(app.screen, AddAlertScreen))
    dialog = app.screen
    assert isinstance(dialog, AddAlertScreen)
    return dialog, dialog.query_one("#alert-level", Input)


@asynccontextmanager
async def running(
    path: Path, feed: FakeFeed, clock: ManualClock, **alerts: object
) -> AsyncIterator[tuple[Pilot[int], MonitorApp]]:
    """The app (`alert_app`) running, with candles in the main list's series, drawn once."""
    app = alert_app(path, feed, clock, **alerts)
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)
        await settle(pilot, app)
        yield pilot, app

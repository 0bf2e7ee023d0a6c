"""Helpers for the TUI alert tests: a watchlist with alert rules and an app built with alert settings."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from monitor.feed.testing import FakeFeed, ManualClock
from monitor.settings import Settings
from monitor.ui.alerting import AlertDelivery
from monitor.ui.app import MonitorApp, make_app
from monitor.watchlist import load_watchlists
from tests.ui.uikit import WATCHLIST, wait_for

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

"""The restart and interval-change tests again, on the real Feed against the in-process simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from monitor.clock import ScaledClock
from monitor.feed import ConnectionState, Feed, WatchState
from monitor.market import Interval, WatchKey
from monitor.settings import Settings
from monitor.ui.app import MonitorApp, make_app
from monitor.watchlist import load_watchlists
from tests.feed.feedkit import SPEED, feed_config, sim_config
from tests.ui.uikit import SIZE, banner, saved, settle, wait_for

pytestmark = pytest.mark.timeout(60)
GAZP = WatchKey("GAZP_TQBR", Interval.M1)
ROUNDS = 1500
"""Pilot pauses of 10 ms: a loaded machine may take seconds to connect and backfill."""


@pytest.fixture
async def real_feed(watchlist_file: Path) -> AsyncIterator[Feed]:
    from monitor.sim import SimServer

    clock = ScaledClock(speed=SPEED)
    sim = SimServer(sim_config(), clock=clock)
    await sim.start()
    feed = Feed(config=feed_config(sim), clock=clock)
    try:
        yield feed
    finally:
        await feed.close()
        await sim.stop()


@pytest.fixture
def make_real(watchlist_file: Path, real_feed: Feed) -> Callable[[], MonitorApp]:
    def build() -> MonitorApp:
        lists = load_watchlists(watchlist_file)
        return make_app(
            Settings(),
            lists,
            watchlist_file,
            real_feed,
            real_feed.clock,
            watch_file=False,
            search_debounce=0.0,
        )

    return build


def badges(app: MonitorApp) -> list[str]:
    return [panel.view.badge.text for panel in app.panel_widgets if panel.display and panel.view]


def live(feed: Feed) -> bool:
    return feed.health.state is ConnectionState.LIVE


async def test_closed_feed_shows_down_and_r_restarts(
    make_real: Callable[[], MonitorApp], real_feed: Feed
) -> None:
    app = make_real()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: live(real_feed), rounds=ROUNDS)
        await real_feed.close()  # the worker's run() returns: the feed is gone
        await wait_for(pilot, lambda: app.model.feed_down is not None, rounds=ROUNDS)
        await settle(pilot, app)
        assert "DOWN" in app.status_bar.text.plain
        assert banner(app) is not None and "Press r to restart" in (banner(app) or "")
        assert all(text == "ERROR feed down" for text in badges(app))

        await pilot.press("r")
        await wait_for(pilot, lambda: app.model.feed_down is None and live(real_feed), rounds=ROUNDS)
        await settle(pilot, app)
        assert banner(app) is None
        assert "LIVE" in app.status_bar.text.plain
        await wait_for(pilot, lambda: all_active(app, real_feed), rounds=ROUNDS)  # streaming again


async def test_interval_keys_change_focused_panel_and_watch(
    make_real: Callable[[], MonitorApp], real_feed: Feed, watchlist_file: Path
) -> None:
    app = make_real()
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: live(real_feed), rounds=ROUNDS)
        await pilot.press("tab", "i")
        gazp2 = WatchKey("GAZP_TQBR", Interval.M2)
        assert app.model.panels[1] == gazp2
        assert gazp2 in real_feed.health.watch and GAZP not in real_feed.health.watch
        assert app.model.watchlists.active_list.entries[1].interval is Interval.M2
        await saved(pilot, app)
        entry = load_watchlists(watchlist_file).active_list.entries[1]
        assert (entry.id, entry.interval) == ("GAZP_TQBR", Interval.M2)
        assert "# Sberbank" in watchlist_file.read_text()
        # The real feed subscribes the new series and its candles reach the panel.
        await wait_for(pilot, lambda: real_feed.view(gazp2).state is WatchState.ACTIVE, rounds=ROUNDS)
        await wait_for(pilot, lambda: has_candles(app, 1), rounds=ROUNDS)
        await pilot.press("I", "I")
        assert app.model.panels[1] == WatchKey("GAZP_TQBR", Interval.MN1)  # wraps below 1m
        assert app.model.panels[0] == WatchKey("SBER_TQBR", Interval.M1)  # the other panels keep theirs


def has_candles(app: MonitorApp, index: int) -> bool:
    app.render_tick()
    view: Any = app.panel_widgets[index].view
    return view is not None and view.series is not None and len(view.series) > 0


def all_active(app: MonitorApp, feed: Feed) -> bool:
    return all(feed.view(key).state is WatchState.ACTIVE for key in app.model.panels if key is not None)

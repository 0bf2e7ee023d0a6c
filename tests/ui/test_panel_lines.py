"""Panels repaint only the lines a change touched: what is on screen must still be the whole chart."""

from __future__ import annotations

from monitor.feed.testing import FakeFeed, ManualClock, wave_candles
from monitor.market import Interval
from monitor.ui.app import MonitorApp
from tests.ui.uikit import MAIN, SIZE, AppFactory, RenderCounts, fill, settle


def screen_text(app: MonitorApp) -> str:
    """The screen as Textual would composite it now (cached lines included), as an SVG."""
    return app.export_screenshot()


async def test_partial_repaints_equal_a_full_repaint(
    make: AppFactory, feed: FakeFeed, clock: ManualClock, renders: RenderCounts
) -> None:
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN)
        await settle(pilot, app)
        panel = app.panel_widgets[1]
        now = int(clock.now())
        start = Interval.M1.start_of(now)
        for step, price in enumerate((99.0, 99.4, 98.7, 140.0)):  # the last one moves the scale
            built = renders.chart(panel)
            forming = wave_candles(start, Interval.M1, 1, price, seed=step)
            feed.push_candles("GAZP_TQBR", Interval.M1, forming)
            await settle(pilot, app)
            assert renders.chart(panel) == built + 1
            partial = screen_text(app)
            for widget in app.panel_widgets:
                widget.refresh()  # drop every cached line: the next frame draws from scratch
            await pilot.pause()
            same = screen_text(app) == partial  # not asserted inline: a diff of two SVGs takes a minute
            assert same, f"stale lines after update {step}"

"""Pilot tests of the chart keys and mouse: cursor and readout, history, live edge, zoom, clicks."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from textual import events
from textual.pilot import Pilot

from monitor.feed.testing import FakeFeed, ManualClock, wave_candles
from monitor.market import Interval, WatchKey
from monitor.ui.app import MonitorApp
from monitor.ui.chartview import DEFAULT_ZOOM, ChartState, frame
from monitor.ui.screens.indicators import IndicatorPicker
from monitor.ui.widgets import CandlePanel
from monitor.ui.widgets.panel import fit_header
from tests.ui.uikit import MAIN, SIZE, WATCHLIST, AppFactory, fill, saved, settle, wait_for

SBER, GAZP, LKOH = (WatchKey(i, Interval.M1) for i in ("SBER_TQBR", "GAZP_TQBR", "LKOH_TQBR"))
HISTORY = 300
"""Candles per series: several screens of a 2x2 panel (about 50 columns wide)."""


@asynccontextmanager
async def running(
    make: AppFactory, feed: FakeFeed, count: int = 60
) -> AsyncIterator[tuple[MonitorApp, Pilot[int]]]:
    """The app on screen with `count` candles in every series of the main list."""
    app = make()
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN, count)
        await settle(pilot, app)
        yield app, pilot


def lines(panel: CandlePanel) -> list[str]:
    """What the panel draws now, line by line (title first)."""
    return ["".join(segment.text for segment in panel.render_line(y)) for y in range(panel.size.height)]


def readout_of(panel: CandlePanel) -> str | None:
    """The cursor's readout (a function: an attribute read would stay narrowed across awaits)."""
    return panel.readout


def header(panel: CandlePanel) -> str:
    return lines(panel)[0]


def chart(app: MonitorApp, index: int = 0) -> ChartState:
    return app.model.charts.get(index, app.model.panel(index))


def shown_times(app: MonitorApp, feed: FakeFeed, index: int = 0) -> list[int]:
    """Start times of the candles panel `index` shows."""
    key = app.model.panel(index)
    assert key is not None
    series = feed.view(key).series
    assert series is not None
    state = chart(app, index)
    window = frame(state, series, app.panel_widgets[index].visible_candles(state.zoom_level))
    return [candle.time for candle in series][window.start : window.stop]


async def test_right_shows_the_cursor_on_the_newest_candle_with_its_readout(
    make: AppFactory, feed: FakeFeed
) -> None:
    async with running(make, feed, HISTORY) as (app, pilot):
        panel = app.panel_widgets[0]
        assert readout_of(panel) is None and not any(" O " in line for line in lines(panel))
        await pilot.press("right")
        await settle(pilot, app)
        series = feed.view(SBER).series
        assert series is not None and series.newest is not None
        assert chart(app).cursor == series.newest.time
        readout = readout_of(panel)
        assert readout is not None and " O " in readout and "forming" in readout and "V " in readout
        assert readout.startswith(lines(panel)[1].rstrip()), "drawn on the chart's top line, cut to fit"
        assert chart(app, 1).cursor is None, "only the focused panel moves"


async def test_left_past_the_edge_scrolls_into_history_and_end_returns_live(
    make: AppFactory, feed: FakeFeed
) -> None:
    async with running(make, feed, HISTORY) as (app, pilot):
        panel = app.panel_widgets[0]
        live = shown_times(app, feed)
        await pilot.press("right", *["left"] * (len(live) + 5))
        await settle(pilot, app)
        assert "HISTORY −" in header(panel)
        assert shown_times(app, feed)[-1] < live[-1]
        assert "closed" in (readout_of(panel) or "")
        await pilot.press("end")
        await settle(pilot, app)
        assert chart(app).live and chart(app).cursor is None
        assert shown_times(app, feed) == live
        assert "HISTORY" not in header(panel)
        assert readout_of(panel) is None and not any(" O " in line for line in lines(panel))


async def test_escape_also_returns_live(make: AppFactory, feed: FakeFeed) -> None:
    async with running(make, feed, HISTORY) as (app, pilot):
        await pilot.press("right", "shift+left", "shift+left")
        assert not chart(app).live
        await pilot.press("escape")
        assert chart(app) == ChartState()


async def test_shift_arrows_move_a_page(make: AppFactory, feed: FakeFeed) -> None:
    async with running(make, feed, HISTORY) as (app, pilot):
        page = app.panel_widgets[0].visible_candles(chart(app).zoom_level)
        await pilot.press("right", "shift+left")
        series = feed.view(SBER).series
        assert series is not None
        times = [candle.time for candle in series]
        assert chart(app).cursor == times[-1 - page]
        await pilot.press("shift+right")
        assert chart(app).cursor == times[-1] and chart(app).live


async def test_reaching_the_oldest_candle_asks_the_feed_for_older(make: AppFactory, feed: FakeFeed) -> None:
    async with running(make, feed, HISTORY) as (app, pilot):
        await pilot.press("right", "shift+left")
        assert feed.older_requests == [], "not at the oldest candle yet"
        await pilot.press("home")
        await settle(pilot, app)
        assert feed.older_requests == [SBER]
        series = feed.view(SBER).series
        assert series is not None and series.oldest is not None
        assert shown_times(app, feed)[0] == series.oldest.time
        # The fake holds nothing older: the page came back empty, the start of history.
        assert "start of history" in header(app.panel_widgets[0])
        # A narrow panel drops the word HISTORY and keeps how far back it is.
        assert re.search(r" −\d+h \d+m · start of history", header(app.panel_widgets[0]))


async def test_a_page_in_flight_says_loading_and_lands_without_moving_the_view(
    make: AppFactory, feed: FakeFeed, clock: ManualClock
) -> None:
    app = make()
    feed.hold_pages = True
    async with app.run_test(size=SIZE) as pilot:
        fill(feed, MAIN, HISTORY)
        first = Interval.M1.start_of(int(clock.now())) - (HISTORY - 1) * 60
        feed.set_history("SBER_TQBR", Interval.M1, wave_candles(first - 600 * 60, Interval.M1, 600, 90.0))
        await settle(pilot, app)
        await pilot.press("home")
        await settle(pilot, app)
        panel = app.panel_widgets[0]
        assert "loading…" in header(panel)
        before = shown_times(app, feed)
        feed.serve_older(SBER)
        await settle(pilot, app)
        assert shown_times(app, feed) == before, "the older page lands off screen, on the left"
        assert "loading…" not in header(panel) and "start of history" not in header(panel)
        await pilot.press("left", "left")
        assert feed.older_requests == [SBER], "the view is no longer at the oldest candle held"
        await pilot.press("home")
        feed.serve_older(SBER, error="ResourceExhausted")
        await settle(pilot, app)
        assert "load failed" in header(panel)
        assert "LIVE" in header(panel), "the badge always has its room"


async def test_new_candles_while_looking_back_keep_the_view_and_say_they_wait(
    make: AppFactory, feed: FakeFeed, clock: ManualClock
) -> None:
    async with running(make, feed, HISTORY) as (app, pilot):
        await pilot.press("right", "shift+left", "shift+left")
        await settle(pilot, app)
        before = shown_times(app, feed)
        now = Interval.M1.start_of(int(clock.now()))
        feed.push_candles("SBER_TQBR", Interval.M1, wave_candles(now + 60, Interval.M1, 3, 120.0, seed=4))
        clock.advance(180)
        await settle(pilot, app)
        assert shown_times(app, feed) == before
        assert "+3 new" in header(app.panel_widgets[0])


async def test_plus_and_minus_change_the_zoom_of_the_focused_panel(make: AppFactory, feed: FakeFeed) -> None:
    async with running(make, feed, HISTORY) as (app, pilot):
        wide = app.panel_widgets[0].visible_candles(chart(app).zoom_level)
        await pilot.press("plus")
        assert chart(app).zoom == DEFAULT_ZOOM - 1
        assert app.panel_widgets[0].visible_candles(chart(app).zoom_level) < wide
        await pilot.press("minus", "minus")
        assert chart(app).zoom == DEFAULT_ZOOM + 1
        assert app.panel_widgets[0].visible_candles(chart(app).zoom_level) > wide
        assert chart(app, 1).zoom == DEFAULT_ZOOM


async def test_clicking_a_panel_focuses_it(make: AppFactory, feed: FakeFeed) -> None:
    async with running(make, feed) as (app, pilot):
        await pilot.click("#panel-2", offset=(5, 1))
        await pilot.pause()
        assert app.model.focused_panel == 2
        assert app.panel_widgets[2].has_class("-focused")
        assert not app.panel_widgets[0].has_class("-focused")


async def test_hovering_a_panel_puts_the_cursor_under_the_pointer(make: AppFactory, feed: FakeFeed) -> None:
    async with running(make, feed, HISTORY) as (app, pilot):
        panel = app.panel_widgets[1]
        x = 10
        index = panel.index_at(x)
        assert index is not None
        await pilot.hover("#panel-1", offset=(x + 1, 6))  # +1: the border
        await settle(pilot, app)
        assert chart(app, 1).cursor == shown_times(app, feed, 1)[index]
        assert any(" O " in line for line in lines(panel))


async def test_the_wheel_zooms_the_panel_under_the_pointer(make: AppFactory, feed: FakeFeed) -> None:
    async with running(make, feed, HISTORY) as (app, pilot):
        panel = app.panel_widgets[3]
        panel.post_message(events.MouseScrollDown(panel, 5, 5, 0, 1, 0, False, False, False))
        await pilot.pause()
        assert chart(app, 3).zoom == DEFAULT_ZOOM + 1
        panel.post_message(events.MouseScrollUp(panel, 5, 5, 0, -1, 0, False, False, False))
        panel.post_message(events.MouseScrollUp(panel, 5, 5, 0, -1, 0, False, False, False))
        await pilot.pause()
        assert chart(app, 3).zoom == DEFAULT_ZOOM - 1


async def test_dragging_right_pans_back_in_time(make: AppFactory, feed: FakeFeed) -> None:
    async with running(make, feed, HISTORY) as (app, pilot):
        live = shown_times(app, feed)
        panel = app.panel_widgets[0]
        await pilot.mouse_down("#panel-0", offset=(10, 6))
        for x in (12, 16, 21):
            await pilot.hover("#panel-0", offset=(x, 6))
        await pilot.mouse_up("#panel-0", offset=(21, 6))
        await settle(pilot, app)
        assert shown_times(app, feed)[-1] == live[-1] - 11 * 60, "dragged 11 cells: 11 candles back"
        assert "HISTORY −11m" in header(panel)


async def test_a_click_on_a_row_selects_it_and_a_double_click_shows_it(
    make: AppFactory, feed: FakeFeed
) -> None:
    async with running(make, feed) as (app, pilot):
        await pilot.click("#sidebar", offset=(3, 3))  # border, then row 3 (index 2)
        await pilot.pause()
        assert app.model.selected == 2
        assert app.model.panels[1] == GAZP
        await pilot.press("tab")
        await pilot.double_click("#sidebar", offset=(3, 1))
        await pilot.pause()
        assert app.model.selected == 0
        assert app.model.panels[1] == WatchKey("SBER_TQBR", Interval.M1)


def test_a_narrow_header_keeps_the_badge_then_the_history_words() -> None:
    words = "HISTORY −3h 20m · +12 new"  # 25 cells; the padding takes 4 more
    assert fit_header(80, "LIVE 3s", "LIVE", words) == (" LIVE 3s ", f" {words} ")
    assert fit_header(34, "LIVE 3s", "LIVE", words) == (" LIVE ", f" {words} "), "the age goes first"
    assert fit_header(28, "LIVE 3s", "LIVE", words) == (" LIVE ", " −3h 20m · +12 new "), "then HISTORY"
    assert fit_header(20, "LIVE 3s", "LIVE", words) == (" LIVE ", " −3h 20m · +1 "), "then it is cut"
    assert fit_header(20, "LIVE 3s", "LIVE", "") == (" LIVE 3s ", "")


WITH_INDICATORS = WATCHLIST.replace('layout = "2x2"', 'layout = "1"').replace(
    'interval = "1m"\ninstruments', 'interval = "1m"\nindicators = ["sma 20", "rsi 14"]\ninstruments', 1
)
"""The main list in one panel (room for the pane) with an overlay and the RSI pane."""


async def test_the_lists_indicators_draw_over_and_under_the_candles(
    make: AppFactory, feed: FakeFeed, watchlist_file: Path
) -> None:
    watchlist_file.write_text(WITH_INDICATORS, encoding="utf-8")
    async with running(make, feed, HISTORY) as (app, pilot):
        panel = app.panel_widgets[0]
        assert panel.view is not None and [s.label for s in panel.view.indicators] == ["SMA 20", "RSI 14"]
        await pilot.press("right")
        await settle(pilot, app)
        readout = readout_of(panel) or ""
        assert re.search(r"SMA 20 [\d ]+\.\d+", readout) and re.search(r"RSI 14 [\d.]+", readout)
        assert "RSI 14" in "\n".join(lines(panel)), "the pane is labelled under the volume"


async def test_o_picks_the_focused_panels_indicators_and_saves_them_with_the_comments(
    make: AppFactory, feed: FakeFeed, watchlist_file: Path
) -> None:
    async with running(make, feed) as (app, pilot):
        await pilot.press("tab", "o")
        await wait_for(pilot, lambda: isinstance(app.screen, IndicatorPicker))
        await pilot.press("enter", "s")  # the first row (SMA 20) on, then save
        await wait_for(pilot, lambda: not isinstance(app.screen, IndicatorPicker))
        await saved(pilot, app)
        assert [s.label for s in app.model.current.indicators_for(GAZP)] == ["SMA 20"]
        assert app.model.current.indicators_for(SBER) == ()
        text = watchlist_file.read_text(encoding="utf-8")
        assert "this comment must survive" in text and "sma 20" in text
        await pilot.press("o", "escape")  # cancelled: nothing changes
        await wait_for(pilot, lambda: not isinstance(app.screen, IndicatorPicker))
        assert [s.label for s in app.model.current.indicators_for(GAZP)] == ["SMA 20"]


async def test_zooming_out_draws_true_ohlcv_groups_and_zooming_in_fewer_candles(
    make: AppFactory, feed: FakeFeed
) -> None:
    async with running(make, feed, HISTORY) as (app, pilot):
        panel = app.panel_widgets[0]
        await pilot.press("minus", "minus", "right")  # 4 candles a column, cursor on the newest group
        await settle(pilot, app)
        series = feed.view(SBER).series
        assert series is not None
        newest = [c for c in series][-4:]
        group = [c for c in newest if c.time // 240 == newest[-1].time // 240]
        readout = readout_of(panel) or ""
        assert (
            f"H {max(c.high for c in group):.2f}" in readout
            and f"L {min(c.low for c in group):.2f}" in readout
        )
        await pilot.press("end", "plus", "plus", "plus")
        assert chart(app).zoom_level.cells == 2


async def test_f_fills_the_empty_panels_of_a_big_layout(make: AppFactory, feed: FakeFeed) -> None:
    async with running(make, feed) as (app, pilot):
        await pilot.press("l")  # 3x3: five empty panels
        await settle(pilot, app)
        assert "or f: fill from the list" in "\n".join(lines(app.panel_widgets[8]))
        await pilot.press("f")
        await settle(pilot, app)
        shown = [panel.view.key for panel in app.panel_widgets if panel.view is not None]
        assert None not in shown and len(set(shown)) == 9
        assert set(shown) <= set(feed.health.watch), "every filled series is subscribed"

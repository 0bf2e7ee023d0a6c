"""The view model without Textual: selection, focus, panels, pause, time zone and watchlist edits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.feed.testing import demo_instrument
from monitor.market import Interval, WatchKey
from monitor.ui.model import (
    VIEW_HINT,
    Edit,
    MonitorModel,
    assign_panels,
    next_layout,
    step_interval,
    watch_keys,
)
from monitor.watchlist import AddEntry, RemoveEntry, SetInterval, SetLayout, parse_watchlists
from tests.ui.uikit import WATCHLIST

SBER, GAZP, LKOH, YDEX = (WatchKey(i) for i in ("SBER_TQBR", "GAZP_TQBR", "LKOH_TQBR", "YDEX_TQBR"))


@pytest.fixture
def model() -> MonitorModel:
    return MonitorModel(parse_watchlists(WATCHLIST.encode(), Path("watchlist.toml")))


# Accessors re-read state after a call; inline attribute reads would stay narrowed for mypy.
def paused(model: MonitorModel) -> bool:
    return model.paused


def layout(model: MonitorModel) -> str:
    return model.current.layout


def file_layout(model: MonitorModel) -> str:
    return model.file.active_list.layout


def test_the_model_imports_no_textual() -> None:
    code = "import sys, monitor.ui.model; assert 'textual' not in sys.modules, 'textual imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_starts_with_the_first_entries_in_the_panels(model: MonitorModel) -> None:
    assert model.panel_count == 4
    assert model.panels == [SBER, GAZP, LKOH, YDEX]
    assert model.watch_keys() == [SBER, GAZP, LKOH, YDEX]
    assert (model.selected, model.focused_panel, model.timezone) == (0, 0, "exchange")


def test_selection_is_clamped_and_jumps_only_to_rows_that_exist(model: MonitorModel) -> None:
    model.move(-1)
    assert model.selected == 0
    model.move(10)
    assert model.selected == 3
    model.jump(8)
    assert model.selected == 3
    model.jump(1)
    assert model.selected == 1


def test_show_selected_puts_the_row_in_the_focused_panel(model: MonitorModel) -> None:
    model.next_panel()
    model.jump(3)
    assert model.show_selected()
    assert model.panels[1] == YDEX
    for _ in range(3):
        model.next_panel()
    assert model.focused_panel == 0  # four panels: tab wraps


def test_pause_counts_updates_and_resume_forgets_them(model: MonitorModel) -> None:
    model.feed_changed()
    assert model.pending == 0
    model.toggle_pause()
    model.feed_changed()
    model.feed_changed()
    assert model.paused and model.pending == 2
    model.toggle_pause()
    assert not paused(model) and model.pending == 0


def test_timezone_cycles(model: MonitorModel) -> None:
    seen = []
    for _ in range(3):
        model.cycle_timezone()
        seen.append(model.timezone)
    assert seen == ["local", "utc", "exchange"]
    assert str(model.tz) == "Europe/Moscow"


def test_interval_change_moves_the_panel_and_its_entry(model: MonitorModel) -> None:
    model.next_panel()
    edit = model.change_interval(1)
    assert edit.changed
    gazp2 = WatchKey("GAZP_TQBR", Interval.M2)
    assert model.panels[1] == gazp2
    assert model.current.entries[1] == gazp2
    assert GAZP not in model.watch_keys()
    model.change_interval(-1)
    model.change_interval(-1)
    assert model.panels[1] == WatchKey("GAZP_TQBR", Interval.MN1)  # wraps below 1m


def test_interval_change_onto_an_entry_the_list_has_only_moves_the_panel(model: MonitorModel) -> None:
    model.panels[0] = WatchKey("GAZP_TQBR", Interval.MN1)  # GAZP 1m is in the list already
    edit = model.change_interval(1)
    assert edit == Edit()
    assert model.panels[0] == GAZP
    assert model.current.entries[1] == GAZP and model.current.entries[0] == SBER


def test_add_selects_the_new_row_and_asks_to_save(model: MonitorModel) -> None:
    edit = model.add(demo_instrument("GMKN", "Nornickel"))
    assert edit.changed and edit.notice.startswith("Added GMKN_TQBR")
    assert model.current.entries[-1] == WatchKey("GMKN_TQBR") and model.selected == 4
    assert WatchKey("GMKN_TQBR") in model.watch_keys()
    again = model.add(demo_instrument("GMKN", "Nornickel"))
    assert not again.changed and "already in the list" in again.warning


def test_remove_refills_the_panel_and_refuses_the_last_row(model: MonitorModel) -> None:
    model.cycle_layout()  # 3x3: more panels than rows
    model.jump(1)
    edit = model.remove()
    assert edit == Edit(changes=(RemoveEntry("main", GAZP),), notice="Removed GAZP_TQBR")
    assert GAZP not in model.panels and GAZP not in model.watch_keys()
    for _ in range(2):
        model.remove()
    last = model.remove()
    assert not last.changed and "needs at least one instrument" in last.warning
    assert len(model.current.entries) == 1 and model.selected == 0


def test_layout_cycles_and_sizes_the_panels_for_this_session(model: MonitorModel) -> None:
    edit = model.cycle_layout()
    assert not edit.changed and edit.info == VIEW_HINT  # the file is not touched
    assert model.current.layout == "3x3" and model.panels[4:] == [None] * 5
    assert file_layout(model) == "2x2"
    assert model.cycle_layout() == Edit()  # the hint is said once
    assert layout(model) == "1" and model.panels == [SBER]
    assert model.save_view() == [SetLayout("main", "1")]
    assert file_layout(model) == "1" and model.save_view() == []


def test_switch_shows_the_other_list_from_the_start(model: MonitorModel) -> None:
    model.jump(2)
    model.next_panel()
    assert model.switch("main") == Edit() and model.switch(None) == Edit()
    edit = model.switch("second")
    assert not edit.changed and model.watchlists.active == "second" and model.file.active == "main"
    assert model.panels == [WatchKey("GMKN_TQBR", Interval.H1), WatchKey("VTBR_TQBR", Interval.H1)]
    assert (model.selected, model.focused_panel) == (0, 0)


def test_reload_keeps_what_is_on_screen(model: MonitorModel) -> None:
    model.next_panel()
    grown = WATCHLIST.replace('"YDEX_TQBR",', '"YDEX_TQBR",\n    "VTBR_TQBR",')
    model.reload(parse_watchlists(grown.encode(), Path("watchlist.toml")))
    assert model.panels == [SBER, GAZP, LKOH, YDEX] and model.focused_panel == 1
    assert WatchKey("VTBR_TQBR") in model.watch_keys()


def test_pure_helpers() -> None:
    assert next_layout("3x3") == "1" and next_layout("nope") == "1"
    assert step_interval(Interval.M1, -1) is Interval.MN1
    assert assign_panels([YDEX, None], [SBER, YDEX], 3) == [YDEX, SBER, None]
    assert watch_keys([SBER, GAZP], [GAZP, None, LKOH]) == [SBER, GAZP, LKOH]


def test_two_monitors_on_one_file_keep_their_own_layout_and_list(model: MonitorModel) -> None:
    """A content edit by another monitor reloads here without taking this session's view."""
    other = MonitorModel(model.file)
    model.cycle_layout()  # 3x3, here only
    model.switch("second")
    model.switch("main")
    assert other.add(demo_instrument("GMKN", "Nornickel")).changes == (
        AddEntry("main", WatchKey("GMKN_TQBR")),
    )
    model.reload(other.file)  # the other monitor's save came back through the hot reload
    assert WatchKey("GMKN_TQBR") in model.current.entries and layout(model) == "3x3"
    assert other.current.layout == "2x2"

    by_hand = parse_watchlists(WATCHLIST.replace('layout = "2x2"', 'layout = "1"').encode(), Path("w.toml"))
    model.reload(by_hand)  # the file's own layout changed: that is what the user asked for
    assert layout(model) == "1" and model.layouts == {}


def test_reload_replays_the_changes_the_file_does_not_hold_yet(model: MonitorModel) -> None:
    model.change_interval(1)  # SBER 2m, its save refused (the file did not load)
    pending = (SetInterval("main", SBER, Interval.M2),)
    grown = WATCHLIST.replace('"YDEX_TQBR",', '"YDEX_TQBR",\n    "VTBR_TQBR",')
    model.reload(parse_watchlists(grown.encode(), Path("watchlist.toml")), pending)
    assert model.current.entries[0] == WatchKey("SBER_TQBR", Interval.M2)
    assert model.current.entries[-1] == WatchKey("VTBR_TQBR")


def test_indicators_are_set_on_the_focused_panels_entry(model: MonitorModel) -> None:
    from monitor.market.indicators import parse_indicator
    from monitor.watchlist import SetIndicators

    sma, rsi = parse_indicator("sma 20"), parse_indicator("rsi 14")
    model.next_panel()
    edit = model.set_indicators((sma, rsi))
    assert edit.changes == (SetIndicators("main", GAZP, (sma, rsi)),)
    assert "SMA 20, RSI 14" in edit.notice
    assert model.current.indicators_for(GAZP) == (sma, rsi)
    assert model.current.indicators_for(SBER) == ()
    assert model.set_indicators((sma, rsi)) == Edit(), "the same again changes nothing"
    back = model.set_indicators(())
    assert back.changes == (SetIndicators("main", GAZP, None),), "the list's own: the entry drops its list"
    assert model.current.indicators_for(GAZP) == ()


def test_indicators_need_a_panel_showing_a_row_of_the_list(model: MonitorModel) -> None:
    from monitor.market.indicators import parse_indicator

    model.panels[0] = WatchKey("GMKN_TQBR")
    edit = model.set_indicators((parse_indicator("ema 50"),))
    assert not edit.changed and "per watchlist entry" in edit.warning


def test_each_panel_starts_live_and_keeps_its_chart_view_until_it_shows_another_series(
    model: MonitorModel,
) -> None:
    from monitor.ui.chartview import LIVE, ChartState

    assert model.charts.get(0, SBER) == LIVE
    model.charts.set(0, SBER, ChartState(zoom=0))
    assert model.charts.get(0, SBER).zoom == 0
    model.jump(3)
    model.show_selected()
    assert model.charts.get(0, model.panels[0]) == LIVE


def test_f_fills_the_empty_panels_with_the_lists_instruments_on_other_intervals(model: MonitorModel) -> None:
    model.cycle_layout()  # 2x2 → 3x3: nine panels, four entries
    assert model.panels.count(None) == 5
    edit = model.fill_empty()
    assert not edit.changed and "Filled 5 panels" in edit.info
    m5 = [WatchKey(key.id, Interval.M2) for key in (SBER, GAZP, LKOH, YDEX)]
    assert model.panels[:4] == [SBER, GAZP, LKOH, YDEX]
    assert model.panels[4:8] == m5, "the next interval of the cycle, in list order"
    assert len(set(model.panels)) == 9 and None not in model.panels
    assert set(model.watch_keys()) == set(model.panels), "the filled series are streamed"
    assert "No empty panel" in model.fill_empty().info

"""The per-panel chart view without Textual: cursor, scroll-back, live edge, zoom and the header words."""

from __future__ import annotations

import subprocess
import sys

import pytest

from monitor.feed.testing import wave_candles
from monitor.market import CandleSeries, Interval, SeriesKey, WatchKey
from monitor.ui.chartview import (
    DEFAULT_ZOOM,
    LIVE,
    ZOOM_LEVELS,
    ChartState,
    ChartViews,
    format_span,
    frame,
    go_live,
    go_oldest,
    history_label,
    hover,
    move_cursor,
    pan,
    wants_older,
    zoom,
)

START = 1_764_061_200
VISIBLE = 20


def make_series(count: int = 100, start: int = START) -> CandleSeries:
    series = CandleSeries(SeriesKey("uid-sber", Interval.M1))
    for candle in wave_candles(start, Interval.M1, count, 100.0):
        series.upsert(candle)
    return series


def times(series: CandleSeries) -> list[int]:
    return [candle.time for candle in series]


def cursor_time(state: ChartState, series: CandleSeries) -> int | None:
    shown = frame(state, series, VISIBLE)
    return None if shown.cursor is None else times(series)[shown.start + shown.cursor]


@pytest.fixture
def series() -> CandleSeries:
    return make_series()


def test_the_chart_view_imports_no_textual() -> None:
    code = "import sys, monitor.ui.chartview; assert 'textual' not in sys.modules, 'textual imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_live_shows_the_newest_candles_without_a_cursor(series: CandleSeries) -> None:
    shown = frame(LIVE, series, VISIBLE)
    assert (shown.start, shown.stop, shown.cursor, shown.newer, shown.back_seconds) == (80, 100, None, 0, 0)
    assert LIVE.live and LIVE.zoom == DEFAULT_ZOOM


def test_a_short_series_fills_the_view_from_its_oldest_candle() -> None:
    shown = frame(LIVE, make_series(5), VISIBLE)
    assert (shown.start, shown.stop) == (0, 5)
    assert frame(LIVE, CandleSeries(SeriesKey("u", Interval.M1)), VISIBLE).stop == 0


def test_the_first_press_puts_the_cursor_on_the_newest_candle_then_moves_it(series: CandleSeries) -> None:
    state = move_cursor(LIVE, series, VISIBLE, -1)
    assert state.live, "the first press stays at the live edge"
    assert cursor_time(state, series) == times(series)[-1]
    state = move_cursor(state, series, VISIBLE, -1)
    assert cursor_time(state, series) == times(series)[-2]
    state = move_cursor(state, series, VISIBLE, 1)
    assert cursor_time(state, series) == times(series)[-1]


def test_moving_past_the_left_edge_scrolls_back(series: CandleSeries) -> None:
    state = move_cursor(LIVE, series, VISIBLE, 1)
    for _ in range(VISIBLE):
        state = move_cursor(state, series, VISIBLE, -1)
    shown = frame(state, series, VISIBLE)
    assert not state.live
    assert (shown.start, shown.stop, shown.cursor) == (79, 99, 0), "the cursor sits on the left edge"
    assert shown.back_seconds == 60
    assert "HISTORY −1m" in history_label(state, shown, loading=False, at_start=False)


def test_a_page_moves_the_cursor_by_the_visible_count_and_clamps_at_the_ends(series: CandleSeries) -> None:
    state = move_cursor(LIVE, series, VISIBLE, 1)
    state = move_cursor(state, series, VISIBLE, -VISIBLE)
    assert cursor_time(state, series) == times(series)[-1 - VISIBLE]
    for _ in range(10):
        state = move_cursor(state, series, VISIBLE, -VISIBLE)
    assert cursor_time(state, series) == times(series)[0]
    assert frame(state, series, VISIBLE).start == 0
    for _ in range(10):
        state = move_cursor(state, series, VISIBLE, VISIBLE)
    assert state.live, "moving up to the newest candle is the live edge again"
    assert cursor_time(state, series) == times(series)[-1]


def test_the_view_stays_on_its_candles_while_new_ones_arrive(series: CandleSeries) -> None:
    state = move_cursor(LIVE, series, VISIBLE, 1)
    state = move_cursor(state, series, VISIBLE, -30)
    before = frame(state, series, VISIBLE)
    shown_before = times(series)[before.start : before.stop]
    for candle in wave_candles(START + 100 * 60, Interval.M1, 12, 100.0, seed=1):
        series.upsert(candle)
    after = frame(state, series, VISIBLE)
    assert times(series)[after.start : after.stop] == shown_before
    assert after.newer == 12
    assert "+12 new" in history_label(state, after, loading=False, at_start=False)


def test_end_returns_to_the_live_edge_and_follows_the_stream(series: CandleSeries) -> None:
    state = move_cursor(move_cursor(LIVE, series, VISIBLE, 1), series, VISIBLE, -50)
    state = go_live(state)
    assert state == LIVE
    series.upsert(wave_candles(START + 100 * 60, Interval.M1, 1, 100.0)[0])
    assert frame(state, series, VISIBLE).stop == len(series) == 101


def test_home_shows_the_oldest_candle_held_and_asks_for_older(series: CandleSeries) -> None:
    state = go_oldest(LIVE, series, VISIBLE)
    shown = frame(state, series, VISIBLE)
    assert (shown.start, shown.stop, shown.cursor) == (0, VISIBLE, None)
    assert wants_older(state, series, VISIBLE)
    assert not wants_older(LIVE, series, VISIBLE), "the live edge never loads history on its own"
    with_cursor = go_oldest(move_cursor(LIVE, series, VISIBLE, 1), series, VISIBLE)
    assert cursor_time(with_cursor, series) == times(series)[0]


def test_older_candles_arriving_keep_the_view_and_the_left_edge_is_no_longer_the_oldest(
    series: CandleSeries,
) -> None:
    state = go_oldest(LIVE, series, VISIBLE)
    first = times(series)[:VISIBLE]
    for candle in wave_candles(START - 50 * 60, Interval.M1, 50, 90.0):
        series.upsert(candle)
    shown = frame(state, series, VISIBLE)
    assert times(series)[shown.start : shown.stop] == first
    assert not wants_older(state, series, VISIBLE)


def test_pan_moves_the_view_and_keeps_the_cursor_on_its_candle(series: CandleSeries) -> None:
    state = move_cursor(LIVE, series, VISIBLE, 1)
    target = times(series)[-1]
    state = pan(state, series, VISIBLE, -10)
    shown = frame(state, series, VISIBLE)
    assert (shown.start, shown.stop) == (70, 90)
    assert state.cursor == target, "the cursor keeps its candle (drawn clamped to the view)"
    assert pan(state, series, VISIBLE, 500).live
    assert frame(pan(LIVE, series, VISIBLE, -5000), series, VISIBLE).start == 0


def test_hover_puts_the_cursor_on_the_candle_under_the_pointer(series: CandleSeries) -> None:
    state = hover(LIVE, series, VISIBLE, 3)
    assert cursor_time(state, series) == times(series)[83]
    assert hover(state, series, VISIBLE, None) == state
    assert hover(state, series, VISIBLE, VISIBLE) == state, "past the newest candle: unchanged"


def test_zoom_walks_the_levels_and_stops_at_both_ends() -> None:
    assert [level.label for level in ZOOM_LEVELS] == [
        "3 cells/candle",
        "2 cells/candle",
        "1 candles/column",
        "2 candles/column",
        "4 candles/column",
        "8 candles/column",
        "16 candles/column",
    ]
    state = LIVE
    for _ in range(10):
        state = zoom(state, -1)
    assert state.zoom_level.cells == 3
    for _ in range(10):
        state = zoom(state, 1)
    assert state.zoom_level.group == 16


def test_the_header_says_loading_and_start_of_history(series: CandleSeries) -> None:
    state = go_oldest(LIVE, series, VISIBLE)
    shown = frame(state, series, VISIBLE)
    # The right edge is candle 19, the newest 99: 80 one-minute candles back.
    assert history_label(state, shown, loading=True, at_start=False) == "HISTORY −1h 20m · loading…"
    assert history_label(state, shown, loading=False, at_start=True) == "HISTORY −1h 20m · start of history"
    assert history_label(LIVE, frame(LIVE, series, VISIBLE), loading=False, at_start=True) == ""


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0m"),
        (45 * 60, "45m"),
        (3 * 3600, "3h"),
        (200 * 60, "3h 20m"),
        (2 * 86400, "2d"),
        (52 * 3600, "2d 4h"),
    ],
)
def test_spans_read_in_two_units_at_most(seconds: int, text: str) -> None:
    assert format_span(seconds) == text


def test_each_panel_keeps_its_view_until_it_shows_another_series(series: CandleSeries) -> None:
    views, sber, gazp = ChartViews(), WatchKey("SBER_TQBR"), WatchKey("GAZP_TQBR")
    moved = move_cursor(LIVE, series, VISIBLE, 1)
    views.set(0, sber, moved)
    assert views.get(0, sber) == moved
    assert views.get(1, sber) == LIVE
    assert views.get(0, gazp) == LIVE, "another series in the panel starts live"


def test_group_ends_name_the_last_candle_of_each_aggregated_group() -> None:
    from monitor.market.aggregate import aggregate
    from monitor.ui.chartinput import group_ends

    candles = wave_candles(START + 120, Interval.M1, 10, 100.0)  # starts 2 minutes into a 4-group
    ends = group_ends(candles, 4, Interval.M1)
    groups = aggregate(candles, 4, Interval.M1)
    assert len(ends) == len(groups)
    assert [candles[end].close for end in ends] == [group.close for group in groups]
    assert group_ends(candles, 1, Interval.M1) == list(range(10))

"""NativeRenderer cursor, readout, zoom and geometry (issue 14): what is drawn where, cell by cell."""

from __future__ import annotations

import datetime
import itertools
import re

import pytest
from rich.style import Style

from monitor.market import Candle, Interval, Origin
from monitor.market.aggregate import aggregate
from monitor.ui.render import ChartInput, ChartStyle, NativeRenderer, Zoom, visible_candles
from monitor.ui.render.cells import CURSOR_LINE, CURSOR_MARK, CURSOR_TICK
from monitor.ui.render.readout import candle_state, readout_text
from monitor.ui.render.scale import PriceScale
from tests.ui.test_render_native import CANDLE_GLYPHS, MSK, T0, candle, cells, colour, series

STYLE = ChartStyle(cursor="bright_white")


Grid = list[list[tuple[str, Style | None]]]


def draw(data: ChartInput, width: int = 80, height: int = 20) -> Grid:
    return cells(NativeRenderer().render(data, width, height, STYLE))


def text(grid: Grid, row: int) -> str:
    return "".join(ch for ch, _ in grid[row])


def test_the_cursor_column_is_marked_the_whole_plot_height_without_hiding_its_candle() -> None:
    candles = series(30)
    data = ChartInput(candles, Interval.M1, cursor=12, show_volume=False)
    plain = draw(ChartInput(candles, Interval.M1, show_volume=False))
    grid = draw(data)
    geometry = NativeRenderer().geometry(data, 80, 20)
    columns = [x for x in range(geometry.plot_width) if geometry.index_at(x) == 12]
    centre = next(x for x in columns if any(row[x][0] in CANDLE_GLYPHS for row in grid[:18]))
    for row in range(18):
        if plain[row][centre][0] in CANDLE_GLYPHS:
            assert grid[row][centre][0] == plain[row][centre][0]  # the candle stays visible
        else:
            assert grid[row][centre][0] == CURSOR_LINE
            assert colour(grid[row][centre][1]) == "bright_white"
    assert grid[18][centre][0] == CURSOR_TICK
    # No other column changed in the price area.
    for row in range(18):
        others = [x for x in range(geometry.plot_width) if x != centre]
        assert [grid[row][x][0] for x in others] == [plain[row][x][0] for x in others]


def test_the_cursor_close_is_marked_on_the_price_axis_apart_from_the_last_price() -> None:
    candles = series(14)  # lows reach 99.5, highs 108.0
    data = ChartInput(candles, Interval.M1, cursor=3, last_price=106.0, price_step=0.01, show_volume=False)
    grid = draw(data, 90, 22)
    scale = PriceScale(99.5, 108.0, 20)
    row = scale.row(candles[3].close)
    line = text(grid, row)
    assert f"{CURSOR_MARK} {candles[3].close:.2f}" in line
    label = [st for ch, st in grid[row][line.index(CURSOR_MARK) :] if ch.strip()]
    assert label and all(st is not None and st.reverse for st in label)
    assert "◀ 106.00" in text(grid, scale.row(106.0))


def test_a_cursor_left_of_the_newest_window_brings_its_candle_into_view() -> None:
    candles = series(400)
    data = ChartInput(candles, Interval.M1, cursor=5, show_volume=False)
    geometry = NativeRenderer().geometry(data, 80, 20)
    shown = [geometry.index_at(x) for x in range(geometry.plot_width)]
    assert shown[0] == 5 and 399 not in shown
    assert CURSOR_TICK in text(draw(data), 18)
    live = NativeRenderer().geometry(ChartInput(candles, Interval.M1, show_volume=False), 80, 20)
    assert live.index_at(live.plot_width - 1) == 399  # without a cursor: the newest on the right


def test_a_cursor_out_of_range_draws_no_cursor() -> None:
    for cursor in (-1, 30, 10**9):
        grid = draw(ChartInput(series(30), Interval.M1, cursor=cursor, show_volume=False))
        assert not any(ch in (CURSOR_LINE, CURSOR_TICK, CURSOR_MARK) for row in grid for ch, _ in row)


def test_the_readout_is_the_top_line_and_the_chart_moves_down_one_row() -> None:
    candles = series(20)
    plain = draw(ChartInput(candles, Interval.M1, show_volume=False), 80, 19)
    grid = draw(ChartInput(candles, Interval.M1, show_volume=False, readout="O 1 H 2 L 0 C 1"), 80, 20)
    assert text(grid, 0).rstrip() == "O 1 H 2 L 0 C 1"
    assert [text(grid, r) for r in range(1, 20)] == [text(plain, r) for r in range(19)]
    geometry = NativeRenderer().geometry(
        ChartInput(candles, Interval.M1, show_volume=False, readout="x"), 80, 20
    )
    assert geometry.price_top == 1 and geometry.price_at(0) is None


def test_readout_text_has_time_ohlc_change_volume_state_and_indicators() -> None:
    bar = Candle(T0 + 300, 3944.4, 3950.0, 3940.1, 3948.2, 12345, True)
    line = readout_text(bar, 3944.4, "closed", MSK, 0.1, {"SMA 20": 3945.06, "RSI 14": None})
    assert line == (
        "25.11.26 10:05  O 3 944.4  H 3 950.0  L 3 940.1  C 3 948.2  +3.8 +0.10%  V 12 345  closed"
        "  SMA 20 3 945.1  RSI 14 —"
    )
    falling = readout_text(bar._replace(close=3940.0), 3944.4, "forming", datetime.UTC, 0.1, {})
    assert "07:05" in falling and "-4.4 -0.11%" in falling and falling.endswith("forming")
    assert "+" not in readout_text(bar, None, "closed", datetime.UTC, 0.1, {}).split("C 3 948.2")[1]


def test_candle_state_names_forming_closed_and_backfilled() -> None:
    bar = Candle(T0, 1, 2, 0.5, 1.5, 1, True)
    assert candle_state(bar._replace(closed=False)) == "forming"
    assert candle_state(bar) == "closed"
    assert candle_state(bar._replace(origin=Origin.BACKFILL)) == "backfilled"


@pytest.mark.parametrize("wide", [2, 3])
def test_zoomed_in_candles_are_wide_with_the_wick_in_the_centre_cell(wide: int) -> None:
    bars = [candle(i, 100.0, 110.0, 90.0, 105.0) for i in range(40)]
    data = ChartInput(bars, Interval.M1, show_volume=False, zoom=Zoom(cells_per_candle=wide))
    grid = draw(data, 80, 22)
    geometry = NativeRenderer().geometry(data, 80, 22)
    columns = [x for x in range(geometry.plot_width) if geometry.index_at(x) == 39]
    assert len(columns) == wide + 1  # the candle's cells plus one free column
    body, gap = columns[:wide], columns[wide]
    centre = body[1] if wide == 3 else body[0]
    scale = PriceScale(90.0, 110.0, 20)
    body_row = scale.row(102.5)
    wick_row = scale.row(108.0)
    assert all(grid[body_row][x][0] == "█" for x in body)
    assert grid[wick_row][centre][0] == "│"
    assert all(grid[wick_row][x][0] == " " for x in body if x != centre)
    assert all(grid[r][gap][0] == " " for r in range(20))


def test_an_aggregated_column_equals_the_groups_ohlcv() -> None:
    bars = [candle(i, 100.0 + i, 101.5 + i, 99.0 + i % 3, 100.5 + i, step=60) for i in range(60)]
    groups = aggregate(bars, 5, Interval.M1)
    by_hand = [
        Candle(
            g[0].time - g[0].time % 300,
            g[0].open,
            max(c.high for c in g),
            min(c.low for c in g),
            g[-1].close,
            sum(c.volume for c in g),
            True,
        )
        for g in (bars[k : k + 5] for k in range(0, 60, 5))
    ]
    assert groups == by_hand
    zoom = Zoom(candles_per_column=5)
    drawn = draw(ChartInput(groups, Interval.M1, zoom=zoom), 80, 24)
    assert drawn == draw(ChartInput(by_hand, Interval.M1, zoom=zoom), 80, 24)
    geometry = NativeRenderer().geometry(ChartInput(groups, Interval.M1, zoom=zoom), 80, 24)
    assert {geometry.index_at(x) for x in range(geometry.plot_width)} - {None} == set(range(12))


def test_the_time_axis_of_aggregated_columns_labels_group_starts_spaced_in_cells() -> None:
    bars = [candle(i, 100.0, 101.0, 99.0, 100.5) for i in range(600)]
    groups = aggregate(bars, 15, Interval.M1)
    data = ChartInput(groups, Interval.M1, tz=MSK, zoom=Zoom(candles_per_column=15))
    labels = text(draw(data, 100, 20), 19)
    geometry = NativeRenderer().geometry(data, 100, 20)
    found = [(m.start(), m.group()) for m in re.finditer(r"\d\d:\d\d", labels)]
    assert len(found) >= 2, labels
    for x, label in found:
        index = geometry.index_at(x)
        assert index is not None
        assert datetime.datetime.fromtimestamp(groups[index].time, MSK).strftime("%H:%M") == label
    # One column per group: 15-minute labels would touch, so they are further apart in cells.
    assert all(b - a >= 8 for (a, _), (b, _) in itertools.pairwise(found))
    assert not any(label.endswith((":15", ":45")) for _, label in found)


def test_geometry_maps_columns_and_rows_back_to_candles_and_prices() -> None:
    bars = series(14)
    data = ChartInput(bars, Interval.M1, show_volume=False)
    geometry = NativeRenderer().geometry(data, 90, 22)
    grid = draw(data, 90, 22)
    for x in range(geometry.plot_width):
        if any(row[x][0] in CANDLE_GLYPHS for row in grid[:20]):
            assert geometry.index_at(x) is not None
    shown = [geometry.index_at(x) for x in range(geometry.plot_width)]
    assert [i for i in dict.fromkeys(shown) if i is not None] == list(range(14))
    assert geometry.index_at(-1) is None and geometry.index_at(geometry.plot_width) is None
    assert geometry.price_at(0) == pytest.approx(108.0, abs=0.25)
    assert geometry.price_at(19) == pytest.approx(99.5, abs=0.25)
    assert geometry.price_at(20) is None and geometry.price_at(-1) is None
    assert NativeRenderer().geometry(ChartInput([], Interval.M1), 90, 22).index_at(10) is None


@pytest.mark.parametrize("zoom", [Zoom(), Zoom(cells_per_candle=2), Zoom(cells_per_candle=3)])
@pytest.mark.parametrize("width", [40, 80, 120, 200])
def test_visible_candles_fill_the_plot_with_typical_labels(zoom: Zoom, width: int) -> None:
    count = visible_candles(width, zoom)
    bars = [candle(i, 3940.0 + i % 5, 3946.0, 3939.0, 3941.0 + i % 3) for i in range(count + 50)]
    data = ChartInput(bars[-count:], Interval.M1, price_step=0.01, zoom=zoom)
    geometry = NativeRenderer().geometry(data, width, 20)
    shown = {geometry.index_at(x) for x in range(geometry.plot_width)} - {None}
    assert shown == set(range(count))  # every candle passed is drawn ...
    # ... and they reach the left edge (less than one candle's columns left over).
    assert geometry.columns.index(0) < zoom.cells_per_candle + 1
    assert visible_candles(width, Zoom(cells_per_candle=3)) < visible_candles(width, Zoom())
    assert visible_candles(0, zoom) == 0


def test_equal_input_with_the_new_fields_returns_the_cached_frame() -> None:
    renderer = NativeRenderer()
    data = ChartInput(series(50), Interval.M1, cursor=40, readout="r", zoom=Zoom(2))
    first = renderer.render(data, 80, 20, STYLE)
    again = renderer.render(
        ChartInput(list(data.candles), Interval.M1, cursor=40, readout="r", zoom=Zoom(2)), 80, 20, STYLE
    )
    assert all(a is b for a, b in zip(first, again, strict=True))
    moved = renderer.render(
        ChartInput(list(data.candles), Interval.M1, cursor=41, readout="r", zoom=Zoom(2)), 80, 20, STYLE
    )
    assert [s.text for s in moved] != [s.text for s in first]

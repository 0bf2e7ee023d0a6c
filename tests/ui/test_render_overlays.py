"""NativeRenderer overlays and the indicator sub-pane (issue 14): lines, clipping, levels, histogram."""

from __future__ import annotations

import math

from rich.style import Style

from monitor.market import Interval
from monitor.ui.render import ChartInput, ChartStyle, NativeRenderer, Overlay, Pane, get_renderer
from monitor.ui.render.overlay import is_braille
from monitor.ui.render.scale import PriceScale
from tests.ui.test_render_native import CANDLE_GLYPHS, cells, colour, series

STYLE = ChartStyle(lines=("cyan", "magenta"))
Grid = list[list[tuple[str, Style | None]]]


def draw(data: ChartInput, width: int = 80, height: int = 20) -> Grid:
    return cells(NativeRenderer().render(data, width, height, STYLE))


def braille_cells(grid: Grid, rows: range) -> list[tuple[int, int, str | None]]:
    return [
        (r, x, colour(grid[r][x][1])) for r in rows for x, (ch, _) in enumerate(grid[r]) if is_braille(ch)
    ]


def test_an_overlay_inside_the_range_is_drawn_on_its_row_in_its_colour() -> None:
    candles = series(14)  # lows 99.5, highs 108.0
    flat = Overlay("SMA 3", [104.0] * 14, color="orange1")
    grid = draw(ChartInput(candles, Interval.M1, overlays=(flat,), show_volume=False), 90, 22)
    dots = braille_cells(grid, range(20))
    assert dots
    assert {r for r, _, _ in dots} == {PriceScale(99.5, 108.0, 20).row(104.0)}
    assert {c for _, _, c in dots} == {"orange1"}


def test_overlays_without_a_colour_take_the_styles_line_colours_in_order() -> None:
    candles = series(14)
    lines = (Overlay("a", [101.0] * 14), Overlay("b", [106.0] * 14))
    grid = draw(ChartInput(candles, Interval.M1, overlays=lines, show_volume=False), 90, 22)
    scale = PriceScale(99.5, 108.0, 20)
    by_row = {r: c for r, _, c in braille_cells(grid, range(20))}
    assert by_row[scale.row(101.0)] == "cyan" and by_row[scale.row(106.0)] == "magenta"


def test_an_overlay_outside_the_range_is_clipped_and_never_moves_the_scale() -> None:
    candles = series(14)
    plain = draw(ChartInput(candles, Interval.M1, show_volume=False), 90, 22)
    for value in (500.0, -3.0, 108.6):
        line = Overlay("far", [value] * 14)
        grid = draw(ChartInput(candles, Interval.M1, overlays=(line,), show_volume=False), 90, 22)
        assert not braille_cells(grid, range(22))
        # Nothing moved (the price axis is the candles' own); only the legend names the line.
        assert grid[1:] == plain[1:] and grid[0][3:] == plain[0][3:]
        assert "".join(ch for ch, _ in grid[0][:3]) == "far"


def test_a_line_crossing_the_range_edge_is_drawn_only_inside() -> None:
    candles = series(14)
    rising = Overlay("up", [96.0 + k for k in range(14)])  # from below the lows to above the highs
    grid = draw(ChartInput(candles, Interval.M1, overlays=(rising,), show_volume=False), 90, 22)
    dots = braille_cells(grid, range(22))
    assert dots and all(r < 20 for r, _, _ in dots)  # nothing on the time axis
    geometry = NativeRenderer().geometry(ChartInput(candles, Interval.M1, show_volume=False), 90, 22)
    lit = {geometry.index_at(x) for _, x, _ in dots}
    assert 0 not in lit and 13 not in lit  # 96 and 109 are outside [99.5, 108]


def test_overlays_never_hide_a_candle_and_skip_missing_values() -> None:
    candles = series(30)
    values: list[float | None] = [100.0 + (k % 7) + 0.7 for k in range(30)]
    for k in (3, 4, 10):
        values[k] = None
    values[12], values[13], values[20] = math.nan, math.inf, -math.inf
    data = ChartInput(candles, Interval.M1, overlays=(Overlay("x", values),), show_volume=False)
    plain = draw(ChartInput(candles, Interval.M1, show_volume=False))
    grid = draw(data)
    for r in range(18):
        for x, (ch, _) in enumerate(plain[r]):
            if ch in CANDLE_GLYPHS:
                assert grid[r][x][0] == ch
    geometry = NativeRenderer().geometry(data, 80, 20)
    lit = {geometry.index_at(x) for _, x, _ in braille_cells(grid, range(18))}
    assert lit and not lit & {4, 10, 13}  # no value on either side: nothing drawn there
    assert "nan" not in "".join(ch for row in grid for ch, _ in row).lower()


def rsi_pane(values: list[float | None]) -> Pane:
    return Pane("RSI 14", (Overlay("rsi", values),), levels=(30.0, 70.0), bounds=(0.0, 100.0))


def test_the_pane_sits_under_the_volume_with_its_label_levels_and_line() -> None:
    candles = series(40)
    data = ChartInput(candles, Interval.M1, pane=rsi_pane([50.0] * 40))
    grid = draw(data, 100, 30)
    rows = ["".join(ch for ch, _ in row) for row in grid]
    pane_top = next(r for r, line in enumerate(rows) if line.startswith("RSI 14"))
    volume_rows = [r for r, line in enumerate(rows) if any(ch in "▁▂▃▅▆▇" for ch in line[:80])]
    assert volume_rows and max(volume_rows) < pane_top < 28  # under the volume, above the time axis
    pane_rows = 30 // 5  # body 30 rows: a fifth of them
    scale = PriceScale(0.0, 100.0, pane_rows)
    for level in (30, 70):
        row = pane_top + scale.row(level)
        assert "┄" in rows[row] and rows[row].rstrip().endswith(f"┤ {level}")
    line_rows = {r for r, _, _ in braille_cells(grid, range(pane_top, pane_top + pane_rows))}
    assert line_rows == {pane_top + scale.row(50.0)}
    # The price scale is untouched by the pane's values.
    geometry = NativeRenderer().geometry(data, 100, 30)
    assert geometry.lo == 99.5 and geometry.hi == 108.0


def test_a_pane_histogram_grows_up_and_down_from_zero_in_the_candle_colours() -> None:
    candles = series(20)
    hist: list[float | None] = [2.0 if k % 2 else -2.0 for k in range(20)]
    pane = Pane("MACD", (Overlay("macd", [0.5] * 20),), histogram=hist)
    data = ChartInput(candles, Interval.M1, pane=pane, show_volume=False)
    grid = draw(data, 100, 30)
    rows = ["".join(ch for ch, _ in row) for row in grid]
    top = next(r for r, line in enumerate(rows) if line.startswith("MACD"))
    geometry = NativeRenderer().geometry(data, 100, 30)
    up_rows: set[int] = set()
    down_rows: set[int] = set()
    for r in range(top, top + 6):
        for x, (ch, st) in enumerate(grid[r][: geometry.plot_width]):
            if ch in "█▀▄":
                index = geometry.index_at(x)
                assert index is not None
                (up_rows if index % 2 else down_rows).add(r)
                assert colour(st) == ("green" if index % 2 else "red")
    assert up_rows and down_rows and max(up_rows) <= min(down_rows)
    # Symmetric around zero: the range ends are labelled +reach and -reach.
    labels = [line.rstrip().rsplit("┤ ", 1)[1] for line in rows[top : top + 6] if "┤ " in line]
    assert labels[0] == "2" and labels[-1] == "-2"


def test_no_pane_when_the_panel_is_too_short() -> None:
    data = ChartInput(series(20), Interval.M1, pane=rsi_pane([50.0] * 20))
    text = "\n".join(strip.text for strip in NativeRenderer().render(data, 80, 14, STYLE))
    assert "RSI" not in text
    assert not any(is_braille(ch) for ch in text)


def test_plotext_ignores_the_new_fields_and_still_draws() -> None:
    data = ChartInput(
        series(40),
        Interval.M1,
        cursor=3,
        overlays=(Overlay("x", [math.nan] * 40),),
        pane=rsi_pane([None] * 40),
        readout="readout",
    )
    plotext = get_renderer("plotext")
    strips = plotext.render(data, 100, 30, STYLE)
    assert len(strips) == 30 and all(strip.cell_length == 100 for strip in strips)
    assert any(ch in "│┃█" for strip in strips for ch in strip.text)
    # It maps no column to a candle (its layout is its own), and says so instead of guessing.
    assert all(plotext.geometry(data, 100, 30).index_at(x) is None for x in range(100))


def test_the_legend_names_each_overlay_in_its_colour_where_the_top_row_is_free() -> None:
    candles = [c._replace(high=min(c.high, 107.0)) for c in series(14)] + series(16)[14:]
    lines = (Overlay("SMA 20", [101.0] * 16), Overlay("EMA 5", [102.0] * 16, color="orange1"))
    grid = draw(ChartInput(candles, Interval.M1, overlays=lines, show_volume=False), 90, 22)
    top = "".join(ch for ch, _ in grid[0])
    assert top.startswith("SMA 20  EMA 5")
    assert {colour(st) for _, st in grid[0][:6]} == {"cyan"}
    assert {colour(st) for _, st in grid[0][8:13]} == {"orange1"}
    # Where a candle reaches the top row, the legend gives way.
    tall = [c._replace(high=120.0) for c in series(120)]  # more candles than columns: no free cell
    blocked = draw(ChartInput(tall, Interval.M1, overlays=lines, show_volume=False), 90, 22)
    assert "SMA" not in "".join(ch for ch, _ in blocked[0])

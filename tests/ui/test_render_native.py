"""NativeRenderer: sizes, colours, forming/gap/backfill marks, price scale and axis labels."""

from __future__ import annotations

import calendar
import re
from zoneinfo import ZoneInfo

import pytest
from rich.style import Style
from textual.strip import Strip

from monitor.market import Candle, Interval
from monitor.ui.render import ChartInput, ChartStyle, NativeRenderer, get_renderer
from monitor.ui.render.scale import PriceScale

T0 = calendar.timegm((2026, 11, 25, 7, 0, 0))  # 10:00 in Moscow
MINUTE = 60
CANDLE_GLYPHS = set("█▀▄╽╿│╵╷")
STYLE = ChartStyle()
MSK = ZoneInfo("Europe/Moscow")


def candle(
    i: int, o: float, h: float, low: float, c: float, *, closed: bool = True, step: int = MINUTE
) -> Candle:
    return Candle(T0 + i * step, o, h, low, c, 100 + i, closed)


def series(n: int, *, step: int = MINUTE) -> list[Candle]:
    """A zig-zag series: even candles rise, odd ones fall, all closed."""
    result = []
    for i in range(n):
        base = 100.0 + (i % 7)
        o, c = (base, base + 1.5) if i % 2 == 0 else (base + 1.5, base)
        result.append(candle(i, o, base + 2.0, base - 0.5, c, step=step))
    return result


def cells(strips: list[Strip]) -> list[list[tuple[str, Style | None]]]:
    """Every row as (glyph, style) per cell."""
    return [[(char, seg.style) for seg in strip for char in seg.text] for strip in strips]


def render(data: ChartInput, width: int = 80, height: int = 20, style: ChartStyle = STYLE) -> list[Strip]:
    return NativeRenderer().render(data, width, height, style)


def plot_width(grid: list[list[tuple[str, Style | None]]]) -> int:
    """The price axis column (the corner `┘` on the time axis): candles live left of it."""
    return [ch for ch, _ in grid[-2]].index("┘")


def candle_columns(grid: list[list[tuple[str, Style | None]]], rows: int) -> list[int]:
    """Columns that hold a candle glyph in the price area, left to right."""
    width = plot_width(grid)
    return sorted({x for row in grid[:rows] for x, (ch, _) in enumerate(row[:width]) if ch in CANDLE_GLYPHS})


def colour(style: Style | None) -> str | None:
    return None if style is None or style.color is None else style.color.name


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (0, 0),
        (0, 5),
        (5, 0),
        (1, 1),
        (10, 3),
        (19, 30),
        (20, 4),
        (20, 5),
        (40, 8),
        (80, 24),
        (120, 30),
        (300, 80),
    ],
)
@pytest.mark.parametrize("count", [0, 1, 3, 200])
def test_always_exactly_height_strips_of_width_cells(width: int, height: int, count: int) -> None:
    data = ChartInput(series(count), Interval.M1, last_price=101.0, price_step=0.01)
    strips = render(data, width, height)
    assert len(strips) == height
    assert all(strip.cell_length == width for strip in strips)
    assert all(len(strip.text) == width for strip in strips)


def test_up_candle_uses_up_colour_and_down_candle_down_colour() -> None:
    style = ChartStyle(up="blue", down="magenta")
    up = cells(render(ChartInput([candle(0, 10, 12, 9, 11)], Interval.M1), style=style))
    down = cells(render(ChartInput([candle(0, 11, 12, 9, 10)], Interval.M1), style=style))
    up_colours = {colour(st) for row in up[:18] for ch, st in row[: plot_width(up)] if ch in CANDLE_GLYPHS}
    down_colours = {
        colour(st) for row in down[:18] for ch, st in row[: plot_width(down)] if ch in CANDLE_GLYPHS
    }
    assert up_colours == {"blue"}
    assert down_colours == {"magenta"}


def test_forming_candle_is_distinct_from_a_closed_one() -> None:
    closed = candle(0, 10, 12, 9, 11)
    forming = candle(1, 10, 12, 9, 11, closed=False)
    data = ChartInput([closed, forming], Interval.M1, show_volume=False)
    grid = cells(render(data, 60, 12))
    columns = candle_columns(grid, 10)
    left = {st for row in grid[:10] for ch, st in (row[columns[0]],) if ch in CANDLE_GLYPHS}
    right = {st for row in grid[:10] for ch, st in (row[columns[-1]],) if ch in CANDLE_GLYPHS}
    assert left and right and left.isdisjoint(right)
    assert all(st is not None and st.dim for st in right)
    assert all(st is not None and not st.dim for st in left)
    # The forming candle also gets a dot on the time axis, whatever the dimming setting.
    assert "•" in "".join(ch for ch, _ in grid[10])


def test_gap_columns_are_hatched_and_hold_no_candle() -> None:
    candles = [c for c in series(12) if not 5 <= c.time // MINUTE - T0 // MINUTE < 8]
    data = ChartInput(candles, Interval.M1, gaps=[(T0 + 5 * MINUTE, T0 + 8 * MINUTE)], show_volume=False)
    grid = cells(render(data, 80, 16))
    price_rows = 14
    hatched = [x for x in range(80) if all(grid[r][x][0] == "░" for r in range(price_rows))]
    assert hatched, "the gap must show as hatched columns"
    assert len(hatched) == 3 * 4  # three missed minutes, four columns per slot (few candles)
    assert hatched == list(range(hatched[0], hatched[0] + len(hatched)))  # one contiguous band
    for x in hatched:
        assert all(grid[r][x][0] not in CANDLE_GLYPHS for r in range(price_rows))
        assert colour(grid[0][x][1]) == "grey35"
    candle_cols = candle_columns(grid, price_rows)
    assert any(x < hatched[0] for x in candle_cols) and any(x > hatched[-1] for x in candle_cols)


def test_backfilled_range_is_marked_on_the_time_axis() -> None:
    data = ChartInput(
        series(10), Interval.M1, backfilled=[(T0 + 2 * MINUTE, T0 + 4 * MINUTE)], show_volume=False
    )
    grid = cells(render(data, 80, 16))
    marker_row = grid[14]
    marked = [x for x, (ch, st) in enumerate(marker_row) if ch == "━"]
    assert len(marked) == 2 * 4
    assert {colour(marker_row[x][1]) for x in marked} == {"dark_cyan"}


@pytest.mark.parametrize("last", [106.0, 108.0, 99.5, 103.25])
def test_last_price_marker_row_matches_the_price_scale(last: float) -> None:
    candles = series(14)  # lows reach 99.5, highs 108.0
    data = ChartInput(candles, Interval.M1, last_price=last, price_step=0.01, show_volume=False)
    height = 22
    grid = cells(render(data, 90, height))
    rows = [r for r, row in enumerate(grid) if any(ch == "◀" for ch, _ in row)]
    expected = PriceScale(99.5, 108.0, height - 2).row(last)
    assert rows == [expected]
    line = "".join(ch for ch, _ in grid[expected])
    assert f"◀ {last:.2f}" in line
    assert "┄" in line or last in (99.5, 108.0)  # the dotted line runs wherever no candle is drawn
    if last == 108.0:
        assert expected == 0
    if last == 99.5:
        assert expected == height - 3


def test_highest_high_is_on_the_top_row_and_lowest_low_on_the_bottom_price_row() -> None:
    candles = [candle(0, 10, 11, 9, 10.5), candle(1, 10.5, 15, 10, 14), candle(2, 14, 14.5, 5, 6)]
    data = ChartInput(candles, Interval.M1, show_volume=False)
    grid = cells(render(data, 60, 14))
    price_rows = 12
    columns = candle_columns(grid, price_rows)
    high_col = columns[len(columns) // 2]  # the middle candle has the highest high
    assert grid[0][high_col][0] in CANDLE_GLYPHS
    lowest = [x for x in columns if grid[price_rows - 1][x][0] in CANDLE_GLYPHS]
    assert lowest and min(lowest) > high_col  # the last candle has the lowest low
    assert not any(ch in CANDLE_GLYPHS for ch, _ in grid[price_rows])  # nothing below the price area


@pytest.mark.parametrize(("step", "pattern"), [(0.01, r"^\d+\.\d{2}$"), (0.5, r"^\d+\.\d$"), (1.0, r"^\d+$")])
def test_price_labels_are_formatted_to_the_price_step(step: float, pattern: str) -> None:
    data = ChartInput(series(30), Interval.M1, price_step=step, show_volume=False)
    strips = render(data, 100, 24)
    labels = [m.group(1) for strip in strips[:22] if (m := re.search(r"┤ (\S+)\s*$", strip.text))]
    assert len(labels) >= 2
    assert all(re.match(pattern, label) for label in labels), labels


def test_time_labels_are_in_the_requested_zone() -> None:
    data = ChartInput(series(40), Interval.M1)
    moscow = render(ChartInput(data.candles, Interval.M1, tz=MSK), 100, 20)[-1].text
    utc = render(data, 100, 20)[-1].text
    assert "25.11" in moscow and "10:10" in moscow and "MSK" in moscow
    assert "07:10" in utc and "UTC" in utc


def test_daily_candles_are_labelled_with_dates() -> None:
    data = ChartInput(series(20, step=86_400), Interval.D1, tz=MSK)
    labels = render(data, 100, 20)[-1].text
    assert re.search(r"\b25\.11\b", labels) and re.search(r"\b\d\d\.12\b", labels)
    assert ":" not in labels


def test_no_candles_shows_waiting_centred() -> None:
    strips = render(ChartInput([], Interval.M1), 60, 11)
    text = strips[5].text
    assert text.strip() == "waiting for data…"
    left = len(text) - len(text.lstrip())
    right = len(text) - len(text.rstrip())
    assert abs(left - right) <= 1
    assert all(not strip.text.strip() for i, strip in enumerate(strips) if i != 5)


def test_one_candle_is_drawn_with_axes() -> None:
    strips = render(
        ChartInput([candle(0, 10, 11, 9, 10.5, closed=False)], Interval.M1, price_step=0.01), 40, 12
    )
    grid = cells(strips)
    assert candle_columns(grid, 8)
    assert any(re.search(r"\d+\.\d\d", strip.text) for strip in strips)


def test_flat_prices_get_a_range_around_them() -> None:
    flat = [candle(i, 5.0, 5.0, 5.0, 5.0) for i in range(10)]
    strips = render(ChartInput(flat, Interval.M1, last_price=5.0, price_step=0.01, show_volume=False), 60, 14)
    text = "\n".join(strip.text for strip in strips)
    assert "◀ 5.00" in text
    assert candle_columns(cells(strips), 12)
    assert "nan" not in text.lower()


def test_tiny_prices_keep_their_digits() -> None:
    tiny = [candle(i, 0.0000105, 0.0000107, 0.0000101, 0.0000106 - i * 1e-8) for i in range(10)]
    text = "\n".join(s.text for s in render(ChartInput(tiny, Interval.M1, last_price=0.0000104), 80, 16))
    assert "◀ 0.0000104" in text
    assert "nan" not in text.lower() and "inf" not in text.lower()


def test_huge_prices_use_compact_labels_on_narrow_charts() -> None:
    huge = [candle(i, 1e12, 1.2e12, 0.9e12, 1.1e12) for i in range(10)]
    text = "\n".join(s.text for s in render(ChartInput(huge, Interval.M1), 40, 12))
    assert "e+12" in text


def test_tiny_sizes_show_a_one_line_summary() -> None:
    data = ChartInput([candle(0, 10, 11, 9, 10), candle(1, 10, 11, 9, 10.5)], Interval.M1, price_step=0.01)
    strips = render(data, 19, 4)
    assert strips[0].text.rstrip() == "10.50 ▲+5.00%"
    assert colour(next(seg.style for seg in strips[0] if seg.text.strip())) == "green"
    assert all(not s.text.strip() for s in strips[1:])


def test_volume_bars_sit_under_the_price_area() -> None:
    data = ChartInput(series(20), Interval.M1)
    grid = cells(render(data, 80, 30))
    width = plot_width(grid)
    # Partial blocks (not ▄, which candles use too) only appear in the volume rows above the time axis.
    rows = {r for r, row in enumerate(grid) if any(ch in "▁▂▃▅▆▇" for ch, _ in row[:width])}
    assert rows and min(rows) > 20 and max(rows) < 28
    volume_cells = [st for r in rows for ch, st in grid[r][:width] if ch in "▁▂▃▅▆▇"]
    assert {colour(st) for st in volume_cells} <= {"green", "red"}
    # One palette: a bar is drawn in the very style of the closed candles of its direction, not a
    # dimmed copy (which a 256-colour terminal turned magenta and the light theme pastel).
    candle_styles = {st for row in grid[:20] for ch, st in row[:width] if ch in CANDLE_GLYPHS}
    assert set(volume_cells) <= candle_styles
    assert not any(st is not None and st.dim for st in volume_cells)


def test_same_input_returns_the_cached_frame() -> None:
    renderer = NativeRenderer()
    data = ChartInput(series(50), Interval.M1, last_price=101.0)
    first = renderer.render(data, 80, 20, STYLE)
    second = renderer.render(ChartInput(list(data.candles), Interval.M1, last_price=101.0), 80, 20, STYLE)
    assert [s.text for s in first] == [s.text for s in second]
    assert all(a is b for a, b in zip(first, second, strict=True))
    third = renderer.render(ChartInput(list(data.candles), Interval.M1, last_price=102.0), 80, 20, STYLE)
    assert [s.text for s in third] != [s.text for s in first]


def test_get_renderer_knows_both_names() -> None:
    assert isinstance(get_renderer("native"), NativeRenderer)
    assert type(get_renderer("plotext")).__name__ == "PlotextRenderer"
    with pytest.raises(ValueError, match="unknown renderer"):
        get_renderer("braille")


def test_axis_prices_are_grouped_in_thousands_like_the_list() -> None:
    bars = [candle(i, 3940.0 + i % 5, 3946.5, 3938.0, 3941.0 + i % 3) for i in range(40)]
    strips = render(ChartInput(bars, Interval.M1, last_price=3944.4, price_step=0.1), 100, 24)
    text = "\n".join(strip.text for strip in strips)
    labels = re.findall(r"┤ (\S+(?: \S+)?)\s*$", text, flags=re.M)
    assert "◀ 3 944.4" in text
    prices = [label for label in labels if "." in label and not label.endswith(("k", "M", "B"))]
    assert len(prices) >= 2 and all(re.fullmatch(r"3 9\d\d\.\d", label) for label in prices), prices


def test_no_price_label_sits_on_the_row_touching_the_volume_label() -> None:
    # Lows at a round 100.00: its tick falls on the bottom price row, right above the volume label.
    bars = [candle(i, 104.0, 110.0, 100.0, 106.0 - i % 3) for i in range(30)]
    for last in (None, 100.0, 106.0):
        strips = render(ChartInput(bars, Interval.M1, last_price=last, price_step=0.01), 80, 24)
        rows = [strip.text for strip in strips]
        volume = [
            r
            for r, line in enumerate(rows)
            if re.search(r"┤ \d+(\.\d)?[kMB]?\s*$", line) and "." not in line[-8:]
        ]
        assert len(volume) == 1, rows
        assert not re.search(r"[┤◀] \d", rows[volume[0] - 1]), rows[volume[0] - 1]
        assert any(re.search(r"┤ \d+\.\d\d", line) for line in rows[: volume[0] - 1])  # ticks remain

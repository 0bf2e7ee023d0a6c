"""The indicator sub-pane under the volume bars: lines, a histogram around 0 and level guides."""

from __future__ import annotations

from monitor.ui.render.base import Pane
from monitor.ui.render.cells import LEVEL_LINE, SIDE, Canvas, Palette, line_style, single_cells
from monitor.ui.render.geometry import Layout, sane_value
from monitor.ui.render.overlay import draw_line
from monitor.ui.render.scale import PriceScale, fit_range


def pane_range(pane: Pane, lines: list[list[float | None]], hist: list[float | None]) -> tuple[float, float]:
    """The pane's value range: its fixed bounds, else the visible values (symmetric around 0
    when it has a histogram, so the bars' zero line sits in the middle)."""
    if pane.bounds is not None:
        lo, hi = (sane_value(v) for v in pane.bounds)
        if lo is not None and hi is not None and lo < hi:
            return lo, hi
    values = [v for line in lines for v in line if v is not None]
    values += [v for v in hist if v is not None]
    if not values:
        return fit_range(0.0, 0.0, None)
    if pane.histogram is not None:
        reach = max(abs(v) for v in values)
        return fit_range(-reach, reach, None)
    return fit_range(min(values), max(values), None)


def pane_label(value: float) -> str:
    """A short axis label for an indicator value (RSI 70, MACD 0.153)."""
    return f"{value:.0f}" if value == int(value) and abs(value) < 1e6 else f"{value:.3g}"


def draw_pane(canvas: Canvas, layout: Layout, pane: Pane, pal: Palette) -> None:
    """Draws `pane` into the layout's pane rows: label, level guides, histogram, lines, axis labels."""
    top, rows, plot_w = layout.pane_top, layout.pane_rows, layout.plot_w
    lines = [layout.values(line.values) for line in pane.lines]
    hist = layout.values(pane.histogram) if pane.histogram is not None else []
    lo, hi = pane_range(pane, lines, hist)
    scale = PriceScale(lo, hi, rows)
    canvas.text(top, 0, single_cells(pane.label[: max(0, plot_w - 1)]), pal.axis)
    levels = [v for v in (sane_value(level) for level in pane.levels) if v is not None and lo <= v <= hi]
    for level in levels:
        row = top + scale.row(level)
        for col in range(plot_w):
            if canvas.chars[row][col] == " ":
                canvas.put(row, col, LEVEL_LINE, pal.axis)
    if hist:
        _draw_histogram(canvas, layout, hist, scale, pal)
    for number, (line, values) in enumerate(zip(pane.lines, lines, strict=True)):
        draw_line(canvas, layout, values, (top, rows, lo, hi), line_style(pal, number, line.color))
    used: list[int] = []
    for value in levels or [hi, lo]:
        row = scale.row(value)
        if any(abs(row - other) < 1 for other in used):
            continue
        used.append(row)
        canvas.put(top + row, plot_w, "┤", pal.axis)
        canvas.text(top + row, plot_w + 2, pane_label(value), pal.axis)


def _draw_histogram(
    canvas: Canvas, layout: Layout, hist: list[float | None], scale: PriceScale, pal: Palette
) -> None:
    """Bars from the zero level to each value, in half rows, coloured by sign like the candles."""
    top, rows = layout.pane_top, scale.rows
    zero = scale.level(0.0)
    for index, value in enumerate(hist):
        if value is None:
            continue
        level = scale.level(value)
        low, high = min(zero, level), max(zero, level)
        style = pal.candle[(value >= 0, False)]
        body = layout.columns(index)[2]
        for row in range(rows - 1 - high // 2, rows - low // 2):
            lower = 2 * (rows - 1 - row)
            glyph = SIDE[(low <= lower + 1 <= high, low <= lower <= high)]
            if glyph == " ":
                continue
            for col in body:
                canvas.put(top + row, col, glyph, style)

"""The native candle renderer: half-block candles drawn cell by cell for Textual's line API."""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual.strip import Strip

from monitor.market import Candle
from monitor.ui.render.base import ChartInput, ChartStyle, Zoom
from monitor.ui.render.cells import MIN_HEIGHT, MIN_WIDTH, WAITING, Canvas, Palette, RowsInUse, palette
from monitor.ui.render.chart import Chart
from monitor.ui.render.geometry import Geometry, Layout, sane_value, visible_candles
from monitor.ui.render.scale import build_slots, decimals_for, format_price, is_sane


class NativeRenderer:
    """The fast renderer for live panels; remembers its last frame and returns it for equal input."""

    def __init__(self) -> None:
        self._key: tuple[object, ...] | None = None
        self._strips: list[Strip] = []
        self._rows = RowsInUse()
        """The row cache's entries this renderer's last frame uses."""
        self._geometry_key: tuple[object, ...] | None = None
        self._geometry = Geometry()

    def render(self, data: ChartInput, width: int, height: int, style: ChartStyle) -> list[Strip]:
        """Renders `data` into exactly `height` strips of `width` cells (see the module docstring)."""
        width, height = max(0, width), max(0, height)
        start, candles = _window(data, width)
        key = (*_frame_key(data, start, candles, width, height), style)
        if key != self._key:
            self._strips = _draw(data, start, candles, (width, height), style, self._rows)
            self._key = key
        return list(self._strips)

    def geometry(self, data: ChartInput, width: int, height: int) -> Geometry:
        """Where `render` puts the candles of `data` at this size (for mouse hover and clicks).

        Remembered like the frame: a pointer moving over an unchanged panel asks for it again and again.
        """
        width, height = max(0, width), max(0, height)
        start, candles = _window(data, width)
        key = (*_frame_key(data, start, candles, width, height), start)
        if key != self._geometry_key:
            layout = _layout(data, start, candles, width, height)
            self._geometry = Geometry() if layout is None else layout.geometry(start)
            self._geometry_key = key
        return self._geometry

    @staticmethod
    def visible_candles(width: int, zoom: Zoom) -> int:
        """How many candles (groups when zoomed out) fit in a panel `width` cells wide."""
        return visible_candles(width, zoom)


def _window(data: ChartInput, width: int) -> tuple[int, tuple[Candle, ...]]:
    """(index of the first, candles) that can be drawn: the newest `width`, or from the cursor."""
    total = len(data.candles)
    start = max(0, total - max(1, width))
    cursor = data.cursor
    if cursor is not None and 0 <= cursor < start:
        start = cursor  # the cursor's candle must be among those drawn
    return start, tuple(data.candles[start : start + max(1, width)])


def _aligned(values: Sequence[float | None], start: int, count: int) -> tuple[float | None, ...]:
    return tuple(values[start : start + count])


def _frame_key(
    data: ChartInput, start: int, candles: tuple[Candle, ...], width: int, height: int
) -> tuple[object, ...]:
    """Everything a frame depends on, with the indicator values cut to the drawn window."""
    count = len(candles)
    overlays = tuple((o.label, o.color, _aligned(o.values, start, count)) for o in data.overlays)
    pane = data.pane
    pane_key: tuple[object, ...] | None = None
    if pane is not None:
        lines = tuple((o.label, o.color, _aligned(o.values, start, count)) for o in pane.lines)
        hist = None if pane.histogram is None else _aligned(pane.histogram, start, count)
        pane_key = (pane.label, lines, hist, pane.levels, pane.bounds)
    cursor = None if data.cursor is None else data.cursor - start
    key: tuple[object, ...] = (candles, data.interval, tuple(data.gaps), tuple(data.backfilled))
    key += (data.last_price, data.price_step, data.tz, data.show_volume, width, height)
    return (*key, cursor, overlays, pane_key, data.zoom, data.readout)


def _layout(
    data: ChartInput, start: int, candles: tuple[Candle, ...], width: int, height: int
) -> Layout | None:
    """The frame's layout, or None when the chart collapses (tiny size, nothing to draw)."""
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return None
    group = max(1, data.zoom.candles_per_column)
    slots = build_slots(candles, data.interval, data.gaps, data.backfilled, width, group)
    if not slots:
        return None
    local = {candle.time: index for index, candle in enumerate(candles)}
    cursor = None if data.cursor is None else data.cursor - start
    cursor_time = candles[cursor].time if cursor is not None and 0 <= cursor < len(candles) else None
    return Layout(data, slots, local, cursor_time, sane_value(data.last_price), width, height)


def _draw(
    data: ChartInput,
    start: int,
    candles: tuple[Candle, ...],
    size: tuple[int, int],
    style: ChartStyle,
    rows: RowsInUse,
) -> list[Strip]:
    width, height = size
    pal = palette(style)
    canvas = Canvas(width, height, pal.blank)
    if width == 0 or height == 0:
        return canvas.strips(rows)
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        _summary(canvas, data, candles, pal)
        return canvas.strips(rows)
    layout = _layout(data, start, candles, width, height)
    if layout is None:
        canvas.text(height // 2, max(0, (width - len(WAITING)) // 2), WAITING, pal.axis)
        return canvas.strips(rows)
    Chart(canvas, data, layout, sane_value(data.last_price), pal).draw()
    return canvas.strips(rows)


def _summary(canvas: Canvas, data: ChartInput, candles: tuple[Candle, ...], pal: Palette) -> None:
    """One line for a panel too small to chart: last price and change since the previous close."""
    sane = [c for c in candles if is_sane(c)]
    if not sane:
        canvas.text(0, 0, WAITING, pal.axis)
        return
    last = sane_value(data.last_price)
    price = sane[-1].close if last is None else last
    previous = sane[-2].close if len(sane) > 1 else sane[-1].open
    change = (price - previous) / previous * 100 if previous else 0.0
    up = price >= previous
    decimals = decimals_for(data.price_step, abs(price))
    text = f"{format_price(price, decimals)} {'▲' if up else '▼'}{change:+.2f}%"
    if not math.isfinite(change):
        text = format_price(price, decimals)
    canvas.text(0, 0, text, pal.candle[(up, False)])

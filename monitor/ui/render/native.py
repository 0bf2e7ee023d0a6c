"""The native candle renderer: half-block candles drawn cell by cell for Textual's line API."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache

from textual.strip import Strip

from monitor.market import Candle
from monitor.ui.render.base import ChartInput, ChartStyle, Zoom
from monitor.ui.render.cells import (
    CENTRE,
    CURSOR_LINE,
    CURSOR_MARK,
    CURSOR_TICK,
    GAP,
    LAST_LINE,
    LAST_MARK,
    MIN_HEIGHT,
    MIN_WIDTH,
    SIDE,
    VOLUME,
    WAITING,
    Canvas,
    Palette,
    line_style,
    palette,
)
from monitor.ui.render.geometry import Geometry, Layout, sane_value, visible_candles
from monitor.ui.render.overlay import draw_line
from monitor.ui.render.pane import draw_pane
from monitor.ui.render.scale import (
    PriceScale,
    build_slots,
    decimals_for,
    format_price,
    format_volume,
    is_sane,
    nice_ticks,
)
from monitor.ui.render.timeaxis import draw_time_axis


class NativeRenderer:
    """The fast renderer for live panels; remembers its last frame and returns it for equal input."""

    def __init__(self) -> None:
        self._key: tuple[object, ...] | None = None
        self._strips: list[Strip] = []

    def render(self, data: ChartInput, width: int, height: int, style: ChartStyle) -> list[Strip]:
        """Renders `data` into exactly `height` strips of `width` cells (see the module docstring)."""
        width, height = max(0, width), max(0, height)
        start, candles = _window(data, width)
        key = _frame_key(data, start, candles, width, height) + (style,)
        if key != self._key:
            self._strips = _draw(data, start, candles, width, height, style)
            self._key = key
        return list(self._strips)

    def geometry(self, data: ChartInput, width: int, height: int) -> Geometry:
        """Where `render` puts the candles of `data` at this size (for mouse hover and clicks)."""
        width, height = max(0, width), max(0, height)
        start, candles = _window(data, width)
        layout = _layout(data, start, candles, width, height)
        return Geometry() if layout is None else layout.geometry(start)

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
    return key + (cursor, overlays, pane_key, data.zoom, data.readout)


def _sane_price(value: float | None) -> float | None:
    return sane_value(value)


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
    return Layout(data, slots, local, cursor_time, _sane_price(data.last_price), width, height)


def _draw(
    data: ChartInput, start: int, candles: tuple[Candle, ...], width: int, height: int, style: ChartStyle
) -> list[Strip]:
    pal = palette(style)
    canvas = Canvas(width, height, pal.blank)
    if width == 0 or height == 0:
        return canvas.strips()
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        _summary(canvas, data, candles, pal)
        return canvas.strips()
    layout = _layout(data, start, candles, width, height)
    if layout is None:
        canvas.text(height // 2, max(0, (width - len(WAITING)) // 2), WAITING, pal.axis)
        return canvas.strips()
    _Chart(canvas, data, layout, _sane_price(data.last_price), pal).draw()
    return canvas.strips()


def _summary(canvas: Canvas, data: ChartInput, candles: tuple[Candle, ...], pal: Palette) -> None:
    """One line for a panel too small to chart: last price and change since the previous close."""
    sane = [c for c in candles if is_sane(c)]
    if not sane:
        canvas.text(0, 0, WAITING, pal.axis)
        return
    last = _sane_price(data.last_price)
    price = sane[-1].close if last is None else last
    previous = sane[-2].close if len(sane) > 1 else sane[-1].open
    change = (price - previous) / previous * 100 if previous else 0.0
    up = price >= previous
    decimals = decimals_for(data.price_step, abs(price))
    text = f"{format_price(price, decimals)} {'▲' if up else '▼'}{change:+.2f}%"
    if not math.isfinite(change):
        text = format_price(price, decimals)
    canvas.text(0, 0, text, pal.candle[(up, False)])


@lru_cache(maxsize=8192)
def _candle_cells(
    open_: float, high: float, low: float, close: float, scale: PriceScale
) -> tuple[tuple[int, str, str], ...]:
    """(row, centre glyph, side glyph) of every cell a candle covers on `scale`.

    Memoized: between two frames of a live panel the scale rarely moves, so every closed candle
    maps to the same cells again and only the forming one is computed afresh.
    """
    rows = scale.rows
    wick_lo = scale.level(min(open_, high, low, close))
    wick_hi = scale.level(max(open_, high, low, close))
    body_lo = scale.level(min(open_, close))
    body_hi = scale.level(max(open_, close))
    cells = []
    for row in range(rows - 1 - wick_hi // 2, rows - wick_lo // 2):
        lower = 2 * (rows - 1 - row)
        upper = lower + 1
        ub, lb = body_lo <= upper <= body_hi, body_lo <= lower <= body_hi
        glyph = CENTRE[(ub, lb, wick_lo <= upper <= wick_hi, wick_lo <= lower <= wick_hi)]
        cells.append((row, glyph, SIDE[(ub, lb)]))
    return tuple(cells)




class _Chart:
    """One frame's drawing steps over a computed Layout."""

    def __init__(
        self, canvas: Canvas, data: ChartInput, layout: Layout, last: float | None, pal: Palette
    ) -> None:
        self.canvas, self.data, self.layout, self.last, self.pal = canvas, data, layout, last, pal
        self.cursor_price: float | None = None
        if layout.cursor_slot is not None:
            candle = layout.slots[layout.cursor_slot].candle
            self.cursor_price = None if candle is None else candle.close

    def draw(self) -> None:
        layout, scale = self.layout, self.layout.scale
        self.draw_gaps()
        if scale is not None:
            self.draw_candles(scale)
            self.draw_last_line(scale)
            self.draw_overlays(scale)
        self.draw_volume()
        if layout.pane_rows and self.data.pane is not None:
            draw_pane(self.canvas, layout, self.data.pane, self.pal)
        self.draw_cursor()
        self.draw_price_axis()
        draw_time_axis(self.canvas, layout, self.data, self.pal)
        self.draw_cursor_tick()
        if layout.top and self.data.readout is not None:
            self.canvas.text(0, 0, self.data.readout, self.pal.cursor)

    def draw_gaps(self) -> None:
        put, layout = self.canvas.put, self.layout
        for index, slot in enumerate(layout.slots):
            if slot.candle is None:
                x = layout.columns(index)[0]
                for row in range(layout.top, layout.plot_bottom):
                    for col in range(x, x + layout.step):
                        put(row, col, GAP, self.pal.gap)

    def draw_candles(self, scale: PriceScale) -> None:
        chars, styles = self.canvas.chars, self.canvas.styles
        candle_styles, layout, top = self.pal.candle, self.layout, self.layout.top
        for index, slot in enumerate(layout.slots):
            candle = slot.candle
            if candle is None:
                continue
            _, centre, body = layout.columns(index)
            style = candle_styles[(candle.close >= candle.open, not candle.closed)]
            for row, glyph, side in _candle_cells(candle.open, candle.high, candle.low, candle.close, scale):
                row += top
                chars[row][centre] = glyph
                styles[row][centre] = style
                if side != " ":
                    for col in body:
                        if col != centre:
                            chars[row][col] = side
                            styles[row][col] = style

    def draw_last_line(self, scale: PriceScale) -> None:
        if self.last is None:
            return
        row = self.layout.top + scale.row(self.last)
        chars = self.canvas.chars[row]
        for col in range(self.layout.plot_w):
            if chars[col] == " ":
                self.canvas.put(row, col, LAST_LINE, self.pal.last_line)

    def draw_overlays(self, scale: PriceScale) -> None:
        layout, background = self.layout, self.pal.background
        area = (layout.top, layout.price_rows, scale.lo, scale.hi)
        for number, overlay in enumerate(self.data.overlays):
            style = self.pal.lines[number % len(self.pal.lines)]
            if overlay.color is not None:
                style = line_style(overlay.color, background)
            draw_line(self.canvas, layout, layout.values(overlay.values), area, style)

    def draw_volume(self) -> None:
        layout = self.layout
        biggest = max((max(0, c.volume) for c in layout.candles), default=0)
        if not layout.vol_rows or biggest <= 0:
            return
        levels = layout.vol_rows * 8
        bottom = layout.vol_top + layout.vol_rows - 1
        for index, slot in enumerate(layout.slots):
            candle = slot.candle
            if candle is None or candle.volume <= 0:
                continue
            units = max(1, round(candle.volume / biggest * levels))
            style = self.pal.volume[candle.close >= candle.open]
            body = layout.columns(index)[2]
            for k in range(layout.vol_rows):
                glyph = VOLUME[min(8, max(0, units - 8 * k))]
                if glyph != " ":
                    for col in body:
                        self.canvas.put(bottom - k, col, glyph, style)
        if self._marked_rows().isdisjoint({layout.vol_top - 1, layout.vol_top}):
            # The volume label sits on the first volume row; a price mark right above it wins.
            self.canvas.put(layout.vol_top, layout.plot_w, "┤", self.pal.axis)
            self.canvas.text(layout.vol_top, layout.plot_w + 2, format_volume(biggest), self.pal.axis)

    def _marked_rows(self) -> set[int]:
        """Rows of the last-price and cursor marks on the price axis."""
        scale, top = self.layout.scale, self.layout.top
        if scale is None:
            return set()
        return {top + scale.row(p) for p in (self.last, self.cursor_price) if p is not None}

    def draw_cursor(self) -> None:
        layout = self.layout
        if layout.cursor_slot is None:
            return
        _, centre, _ = layout.columns(layout.cursor_slot)
        chars = self.canvas.chars
        for row in range(layout.top, layout.plot_bottom):
            if chars[row][centre] in (" ", LAST_LINE):
                self.canvas.put(row, centre, CURSOR_LINE, self.pal.cursor)

    def draw_cursor_tick(self) -> None:
        """The cursor's mark on the time axis (over a label tick or the forming dot: it is the focus)."""
        if self.layout.cursor_slot is not None:
            centre = self.layout.columns(self.layout.cursor_slot)[1]
            self.canvas.put(self.layout.marker_row, centre, CURSOR_TICK, self.pal.cursor)

    def draw_price_axis(self) -> None:
        canvas, pal, layout = self.canvas, self.pal, self.layout
        x = layout.plot_w
        for row in range(layout.top, layout.plot_bottom):
            if canvas.chars[row][x] == " ":
                canvas.put(row, x, "│", pal.axis)
        scale = layout.scale
        if scale is None:
            return
        used = [row - layout.top for row in self._marked_rows()]
        if layout.vol_rows:
            used.append(layout.price_rows)  # the volume label's row: keep the bottom row free of ticks
        ticks = nice_ticks(scale.lo, scale.hi, max(1, layout.price_rows // 4), self.data.price_step)
        placed = 0
        for value in ticks:
            placed += self.place_tick(scale, value, used)
        if placed < 2:
            # Round ticks did not fit (a very flat or very short scale): label the range ends instead.
            for value in (scale.hi, scale.lo):
                self.place_tick(scale, value, used)
        for price, mark, style in (
            (self.last, LAST_MARK, pal.last_label),
            (self.cursor_price, CURSOR_MARK, pal.cursor_label),
        ):
            if price is not None:
                row = layout.top + scale.row(price)
                canvas.put(row, x, mark, style)
                canvas.text(row, x + 1, " " + layout.label(price), style)

    def place_tick(self, scale: PriceScale, value: float, used: list[int]) -> int:
        """Labels `value` on the axis unless a label already sits on its row or a neighbour; 1 if placed."""
        row = scale.row(value)
        if any(abs(row - other) < 2 for other in used):
            return 0
        used.append(row)
        row += self.layout.top
        self.canvas.put(row, self.layout.plot_w, "┤", self.pal.axis)
        self.canvas.text(row, self.layout.plot_w + 2, self.layout.label(value), self.pal.axis)
        return 1

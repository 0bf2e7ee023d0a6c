"""The native chart's drawing steps: candles, last-price line, overlays, volume, cursor, price axis."""

from __future__ import annotations

from functools import lru_cache

from monitor.ui.render.base import ChartInput
from monitor.ui.render.cells import (
    CENTRE,
    CURSOR_LINE,
    CURSOR_MARK,
    CURSOR_TICK,
    GAP,
    LAST_LINE,
    LAST_MARK,
    SIDE,
    VOLUME,
    Canvas,
    Palette,
    line_style,
    single_cells,
)
from monitor.ui.render.geometry import Layout
from monitor.ui.render.overlay import draw_line, is_braille
from monitor.ui.render.pane import draw_pane
from monitor.ui.render.scale import PriceScale, format_volume, nice_ticks
from monitor.ui.render.timeaxis import draw_time_axis


@lru_cache(maxsize=8192)
def _candle_cells(
    open_: float, high: float, low: float, close: float, lo: float, hi: float, rows: int
) -> tuple[tuple[int, str, str], ...]:
    """(row, centre glyph, side glyph) of every cell a candle covers on PriceScale(lo, hi, rows).

    Memoized: between two frames of a live panel the scale rarely moves, so every closed candle
    maps to the same cells again and only the forming one is computed afresh. The scale comes as
    its fields: a key of plain numbers hashes in C, the dataclass's hash is Python code.
    """
    scale = PriceScale(lo, hi, rows)
    wick = scale.level(min(open_, high, low, close)), scale.level(max(open_, high, low, close))
    return _level_cells(*wick, scale.level(min(open_, close)), scale.level(max(open_, close)), rows)


@lru_cache(maxsize=8192)
def _level_cells(
    wick_lo: int, wick_hi: int, body_lo: int, body_hi: int, rows: int
) -> tuple[tuple[int, str, str], ...]:
    """`_candle_cells` from the candle's half-row levels: candles entering a scrolled view mostly
    repeat a shape (levels) already drawn, though their prices and the scale are new."""
    cells = []
    centres, sides = _CENTRE_BY_BITS, _SIDE_BY_BITS
    for row in range(rows - 1 - wick_hi // 2, rows - wick_lo // 2):
        lower = 2 * (rows - 1 - row)
        upper = lower + 1
        body = 2 * (body_lo <= upper <= body_hi) + (body_lo <= lower <= body_hi)
        wick = 2 * (wick_lo <= upper <= wick_hi) + (wick_lo <= lower <= wick_hi)
        cells.append((row, centres[4 * body + wick], sides[body]))
    return tuple(cells)


_CENTRE_BY_BITS = tuple(
    CENTRE[(bool(bits & 8), bool(bits & 4), bool(bits & 2), bool(bits & 1))] for bits in range(16)
)
"""CENTRE indexed by the bits (upper body, lower body, upper wick, lower wick): no tuple per cell."""
_SIDE_BY_BITS = tuple(SIDE[(bool(bits & 2), bool(bits & 1))] for bits in range(4))


@lru_cache(maxsize=256)
def _volume_glyphs(units: int, rows: int) -> tuple[str, ...]:
    """The glyphs of a volume bar `units` eighths of a row high, bottom row first (no blanks)."""
    glyphs = (VOLUME[min(8, max(0, units - 8 * k))] for k in range(rows))
    return tuple(glyph for glyph in glyphs if glyph != " ")


class Chart:
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
            self.draw_legend()
        self.draw_volume()
        if layout.pane_rows and self.data.pane is not None:
            draw_pane(self.canvas, layout, self.data.pane, self.pal)
        self.draw_cursor()
        self.draw_price_axis()
        draw_time_axis(self.canvas, layout, self.data, self.pal)
        self.draw_cursor_tick()
        if layout.top and self.data.readout is not None:
            self.canvas.text(0, 0, single_cells(self.data.readout), self.pal.cursor)

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
        lo, hi, rows = scale.lo, scale.hi, scale.rows
        for index, slot in enumerate(layout.slots):
            candle = slot.candle
            if candle is None:
                continue
            _, centre, body = layout.columns(index)
            style = candle_styles[(candle.close >= candle.open, not candle.closed)]
            cells = _candle_cells(candle.open, candle.high, candle.low, candle.close, lo, hi, rows)
            if len(body) == 1:
                # One column a candle (zoomed out, or many candles): only the centre glyph,
                # the common case of a wide view, without the side columns' checks per cell.
                for row, glyph, _ in cells:
                    chars[row + top][centre] = glyph
                    styles[row + top][centre] = style
                continue
            others = [col for col in body if col != centre]
            for row, glyph, side in cells:
                row_chars, row_styles = chars[row + top], styles[row + top]
                row_chars[centre] = glyph
                row_styles[centre] = style
                if others and side != " ":
                    for col in others:
                        row_chars[col] = side
                        row_styles[col] = style

    def draw_last_line(self, scale: PriceScale) -> None:
        if self.last is None:
            return
        row = self.layout.top + scale.row(self.last)
        chars = self.canvas.chars[row]
        for col in range(self.layout.plot_w):
            if chars[col] == " ":
                self.canvas.put(row, col, LAST_LINE, self.pal.last_line)

    def draw_overlays(self, scale: PriceScale) -> None:
        layout = self.layout
        area = (layout.top, layout.price_rows, scale.lo, scale.hi)
        for number, overlay in enumerate(self.data.overlays):
            style = line_style(self.pal, number, overlay.color)
            draw_line(self.canvas, layout, layout.values(overlay.values), area, style)

    def draw_legend(self) -> None:
        """The overlays' labels in their colours along the top price row, where the row is free."""
        layout, chars = self.layout, self.canvas.chars[self.layout.top]
        x = 0
        for number, overlay in enumerate(self.data.overlays):
            label = single_cells(overlay.label)
            end = x + len(label)
            if not label or end > layout.plot_w:
                break
            if any(not (c == " " or c == LAST_LINE or is_braille(c)) for c in chars[x:end]):
                break  # a candle reaches the top row here: it is not covered by a label
            self.canvas.text(layout.top, x, label, line_style(self.pal, number, overlay.color))
            x = end + 2

    def draw_volume(self) -> None:
        layout = self.layout
        biggest = max((max(0, c.volume) for c in layout.candles), default=0)
        if not layout.vol_rows or biggest <= 0:
            return
        rows = layout.vol_rows
        levels = rows * 8
        bottom = layout.vol_top + rows - 1
        chars, styles, volume_styles = self.canvas.chars, self.canvas.styles, self.pal.volume
        for index, slot in enumerate(layout.slots):
            candle = slot.candle
            if candle is None or candle.volume <= 0:
                continue
            style = volume_styles[candle.close >= candle.open]
            body = layout.columns(index)[2]
            for k, glyph in enumerate(_volume_glyphs(max(1, round(candle.volume / biggest * levels)), rows)):
                row_chars, row_styles = chars[bottom - k], styles[bottom - k]
                for col in body:
                    row_chars[col] = glyph
                    row_styles[col] = style
        # The volume label sits on the first volume row, or one lower when a price mark (last price,
        # cursor) is right above it: labels on touching rows read as one.
        row = layout.vol_top if layout.vol_top - 1 not in self._marked_rows() else layout.vol_top + 1
        self.canvas.put(row, layout.plot_w, "┤", self.pal.axis)
        self.canvas.text(row, layout.plot_w + 2, format_volume(biggest), self.pal.axis)

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

"""The native candle renderer: half-block candles drawn cell by cell for Textual's line API."""

from __future__ import annotations

import datetime
import math
from functools import lru_cache

from textual.strip import Strip

from monitor.market import Candle, Interval
from monitor.ui.render.base import ChartInput, ChartStyle
from monitor.ui.render.cells import (
    BACKFILL,
    CENTRE,
    FORMING_MARK,
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
    palette,
)
from monitor.ui.render.scale import (
    MAX_PRICE,
    PriceScale,
    Slot,
    build_slots,
    compact_price,
    decimals_for,
    fit_range,
    format_price,
    format_volume,
    is_sane,
    nice_ticks,
    time_label,
    tz_name,
)


class NativeRenderer:
    """The fast renderer for live panels; remembers its last frame and returns it for equal input."""

    def __init__(self) -> None:
        self._key: tuple[object, ...] | None = None
        self._strips: list[Strip] = []

    def render(self, data: ChartInput, width: int, height: int, style: ChartStyle) -> list[Strip]:
        """Renders `data` into exactly `height` strips of `width` cells (see the module docstring)."""
        width, height = max(0, width), max(0, height)
        candles = tuple(data.candles[-max(1, width) :])
        key: tuple[object, ...] = (candles, data.interval, tuple(data.gaps), tuple(data.backfilled))
        key += (data.last_price, data.price_step, data.tz, data.show_volume, width, height, style)
        if key != self._key:
            self._strips = _draw(data, candles, width, height, style)
            self._key = key
        return list(self._strips)


def _sane_price(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or abs(value) > MAX_PRICE:
        return None
    return value


def _draw(
    data: ChartInput, candles: tuple[Candle, ...], width: int, height: int, style: ChartStyle
) -> list[Strip]:
    pal = palette(style)
    canvas = Canvas(width, height, pal.blank)
    if width == 0 or height == 0:
        return canvas.strips()
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        _summary(canvas, data, candles, pal)
        return canvas.strips()
    slots = build_slots(candles, data.interval, data.gaps, data.backfilled, width)
    last = _sane_price(data.last_price)
    if not slots:
        canvas.text(height // 2, max(0, (width - len(WAITING)) // 2), WAITING, pal.axis)
        return canvas.strips()
    _Chart(canvas, data, slots, last, pal, height).draw()
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


@lru_cache(maxsize=256)
def _time_labels(
    times: tuple[int, ...], interval: Interval, tz: datetime.tzinfo, step: int
) -> tuple[tuple[int, str], ...]:
    """(slot index, label) candidates in placement order: the first that fits wins its cells.

    Memoized: the slot times only move when a new period starts, and formatting a datetime per
    slot was the costliest part of a live panel's frame.
    """
    out: list[tuple[int, str]] = []
    period = 0
    if interval.seconds < 86_400:
        moments = [datetime.datetime.fromtimestamp(at, tz) for at in times]
        # Day starts get their DD.MM label first, so the date is never more than a screen away.
        for index, moment in enumerate(moments):
            if index == 0 or moment.date() != moments[index - 1].date():
                out.append((index, moment.strftime("%d.%m")))
        period = _round_period(interval.seconds, step)
        for index, moment in enumerate(moments):
            offset = moment.utcoffset()
            local = times[index] + (int(offset.total_seconds()) if offset else 0)
            if period and local % period == 0:
                out.append((index, moment.strftime("%H:%M")))
    if not period:
        out += [(index, time_label(at, interval, tz)) for index, at in enumerate(times)]
    return tuple(out)


def _round_period(interval_seconds: int, columns_per_slot: int) -> int:
    """The shortest round time step (seconds) whose labels fit side by side, or 0 if none does."""
    for minutes in (1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720):
        period = minutes * 60
        if period % interval_seconds == 0 and period // interval_seconds * columns_per_slot >= 8:
            return period
    return 0


class _Chart:
    """One frame's layout and drawing steps (a class only to share the layout between steps)."""

    def __init__(
        self,
        canvas: Canvas,
        data: ChartInput,
        slots: list[Slot],
        last: float | None,
        pal: Palette,
        height: int,
    ) -> None:
        self.canvas, self.data, self.last, self.pal = canvas, data, last, pal
        width = canvas.width
        self.vol_rows = min(4, max(2, height // 8)) if data.show_volume and height >= 12 else 0
        self.price_rows = height - 2 - self.vol_rows
        self.marker_row, self.label_row = height - 2, height - 1
        prices = [p for s in slots if s.candle is not None for p in (s.candle.low, s.candle.high)]
        prices += [last] if last is not None else []
        lo, hi = fit_range(min(prices), max(prices), data.price_step) if prices else (0.0, 1.0)
        self.decimals = decimals_for(data.price_step, max(abs(lo), abs(hi)))
        label_w = max(len(format_price(v, self.decimals)) for v in (lo, hi, last if last is not None else lo))
        self.compact = 2 + label_w > width // 3
        if self.compact:
            label_w = max(len(compact_price(v)) for v in (lo, hi))
        self.plot_w = width - min(2 + max(label_w, 6 if self.vol_rows else 0), width // 2)
        count = len(slots)
        self.step = 4 if count * 4 <= self.plot_w else 2 if count * 2 <= self.plot_w else 1
        self.slots = slots[-(self.plot_w // self.step) :]
        self.x0 = self.plot_w - len(self.slots) * self.step
        self.candles = [s.candle for s in self.slots if s.candle is not None]
        self.scale: PriceScale | None = None
        if self.candles or last is not None:
            lows = [min(c.open, c.high, c.low, c.close) for c in self.candles]
            highs = [max(c.open, c.high, c.low, c.close) for c in self.candles]
            extra = [last] if last is not None else []
            lo, hi = fit_range(min(lows + extra), max(highs + extra), data.price_step)
            self.scale = PriceScale(lo, hi, self.price_rows)

    def label(self, price: float) -> str:
        return compact_price(price) if self.compact else format_price(price, self.decimals)

    def columns(self, index: int) -> tuple[int, int, range]:
        """(slot start, centre column, body columns) of the index-th visible slot."""
        x = self.x0 + index * self.step
        if self.step == 4:
            return x, x + 1, range(x, x + 3)
        return x, x, range(x, x + 1)

    def draw(self) -> None:
        self.draw_gaps()
        if self.scale is not None:
            self.draw_candles(self.scale)
            self.draw_last_line(self.scale)
        self.draw_volume()
        self.draw_price_axis()
        self.draw_time_axis()

    def draw_gaps(self) -> None:
        put = self.canvas.put
        for index, slot in enumerate(self.slots):
            if slot.candle is None:
                x = self.columns(index)[0]
                for row in range(self.price_rows + self.vol_rows):
                    for col in range(x, x + self.step):
                        put(row, col, GAP, self.pal.gap)

    def draw_candles(self, scale: PriceScale) -> None:
        chars, styles = self.canvas.chars, self.canvas.styles
        candle_styles = self.pal.candle
        for index, slot in enumerate(self.slots):
            candle = slot.candle
            if candle is None:
                continue
            _, centre, body = self.columns(index)
            style = candle_styles[(candle.close >= candle.open, not candle.closed)]
            for row, glyph, side in _candle_cells(candle.open, candle.high, candle.low, candle.close, scale):
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
        row = scale.row(self.last)
        chars = self.canvas.chars[row]
        for col in range(self.plot_w):
            if chars[col] == " ":
                self.canvas.put(row, col, LAST_LINE, self.pal.last_line)

    def draw_volume(self) -> None:
        biggest = max((max(0, c.volume) for c in self.candles), default=0)
        if not self.vol_rows or biggest <= 0:
            return
        levels = self.vol_rows * 8
        bottom = self.price_rows + self.vol_rows - 1
        for index, slot in enumerate(self.slots):
            candle = slot.candle
            if candle is None or candle.volume <= 0:
                continue
            units = max(1, round(candle.volume / biggest * levels))
            style = self.pal.volume[candle.close >= candle.open]
            body = self.columns(index)[2]
            for k in range(self.vol_rows):
                glyph = VOLUME[min(8, max(0, units - 8 * k))]
                if glyph != " ":
                    for col in body:
                        self.canvas.put(bottom - k, col, glyph, style)
        self.canvas.put(self.price_rows, self.plot_w, "┤", self.pal.axis)
        self.canvas.text(self.price_rows, self.plot_w + 2, format_volume(biggest), self.pal.axis)

    def draw_price_axis(self) -> None:
        canvas, pal, x = self.canvas, self.pal, self.plot_w
        for row in range(self.price_rows + self.vol_rows):
            if canvas.chars[row][x] == " ":
                canvas.put(row, x, "│", pal.axis)
        scale = self.scale
        if scale is None:
            return
        used: list[int] = []
        if self.last is not None:
            used.append(scale.row(self.last))
        ticks = nice_ticks(scale.lo, scale.hi, max(1, self.price_rows // 4), self.data.price_step)
        placed = 0
        for value in ticks:
            placed += self.place_tick(scale, value, used)
        if placed < 2:
            # Round ticks did not fit (a very flat or very short scale): label the range ends instead.
            for value in (scale.hi, scale.lo):
                self.place_tick(scale, value, used)
        if self.last is not None:
            row = scale.row(self.last)
            canvas.put(row, x, LAST_MARK, pal.last_label)
            canvas.text(row, x + 1, " " + self.label(self.last), pal.last_label)

    def place_tick(self, scale: PriceScale, value: float, used: list[int]) -> int:
        """Labels `value` on the axis unless a label already sits on its row or a neighbour; 1 if placed."""
        row = scale.row(value)
        if any(abs(row - other) < 2 for other in used):
            return 0
        used.append(row)
        self.canvas.put(row, self.plot_w, "┤", self.pal.axis)
        self.canvas.text(row, self.plot_w + 2, self.label(value), self.pal.axis)
        return 1

    def draw_time_axis(self) -> None:
        canvas, pal, data = self.canvas, self.pal, self.data
        marker, labels = self.marker_row, self.label_row
        for col in range(self.plot_w):
            canvas.put(marker, col, "─", pal.axis)
        canvas.put(marker, self.plot_w, "┘", pal.axis)
        for index, slot in enumerate(self.slots):
            x, centre, _ = self.columns(index)
            if slot.candle is None or slot.backfilled:
                glyph, style = (GAP, pal.gap) if slot.candle is None else (BACKFILL, pal.backfill)
                for col in range(x, x + self.step):
                    canvas.put(marker, col, glyph, style)
            if slot.candle is not None and not slot.candle.closed:
                canvas.put(marker, centre, FORMING_MARK, pal.last_label)
        occupied = bytearray(canvas.width + 2)
        times = tuple(slot.time for slot in self.slots)
        for index, text in _time_labels(times, data.interval, data.tz, self.step):
            self.place_label(index, text, occupied)
        zone = tz_name(self.slots[-1].time, data.tz)
        if self.plot_w + 2 + len(zone) <= canvas.width:
            canvas.text(labels, self.plot_w + 2, zone, pal.axis)

    def place_label(self, index: int, text: str, occupied: bytearray) -> None:
        """Writes a time label at a slot's centre if it and a one-cell margin are free."""
        centre = self.columns(index)[1]
        end = centre + len(text)
        if end > self.plot_w + 1 or any(occupied[max(0, centre - 1) : end + 2]):
            return
        occupied[centre:end] = b"\x01" * len(text)
        self.canvas.text(self.label_row, centre, text, self.pal.axis)
        if self.canvas.chars[self.marker_row][centre] == "─":
            self.canvas.put(self.marker_row, centre, "┬", self.pal.axis)

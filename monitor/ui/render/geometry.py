"""Where a native chart puts things: rows, the plot width, the visible slots and their columns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from monitor.market import Candle
from monitor.ui.render.base import ChartInput, Zoom
from monitor.ui.render.cells import MIN_HEIGHT
from monitor.ui.render.scale import (
    MAX_PRICE,
    PriceScale,
    Slot,
    compact_price,
    decimals_for,
    fit_range,
    format_price,
)

TYPICAL_LABEL = 8
"""Price label width `visible_candles` assumes ("3 944.40"); geometry() has the exact layout."""
MIN_PRICE_ROWS = 6
"""A sub-pane is only drawn when the price area keeps at least this many rows."""


def sane_value(value: object) -> float | None:
    """`value` as a drawable float, or None (None, NaN, inf, absurd sizes, non-numbers)."""
    if type(value) is float:
        # The common case first: a NaN fails both comparisons, an inf the bound.
        return value if -MAX_PRICE <= value <= MAX_PRICE else None
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    number = float(value)
    if not math.isfinite(number) or abs(number) > MAX_PRICE:
        return None
    return number


def cells_per_candle(zoom: Zoom) -> int:
    """The zoom's candle width clamped to what the renderer draws (1-3 cells)."""
    return min(3, max(1, zoom.cells_per_candle))


def axis_width(label_width: int, has_volume: bool, width: int) -> int:
    """Columns right of the plot: the axis line, a space and the widest label (at most half)."""
    return min(2 + max(label_width, 6 if has_volume else 0), width // 2)


def visible_candles(width: int, zoom: Zoom) -> int:
    """How many candles (or aggregated groups) fit in a panel `width` cells wide, after the axis.

    Assumes price labels of TYPICAL_LABEL cells; the renderer shows the newest that fit (and
    always the cursor's candle), so an estimate off by a column or two only shifts the window.
    """
    if width <= 0:
        return 0
    plot = width - axis_width(TYPICAL_LABEL, True, width)
    return max(0, plot // _step(cells_per_candle(zoom), plot, plot))


def _step(cells: int, count: int, plot_w: int) -> int:
    """Columns per slot: the zoom's width plus a free column, or (unzoomed) as wide as fits."""
    fitted = 4 if count * 4 <= plot_w else 2 if count * 2 <= plot_w else 1
    # Zooming in never draws a candle narrower than the unzoomed view of few candles does.
    return max(cells + 1, fitted) if cells > 1 else fitted


@dataclass(frozen=True)
class Geometry:
    """Where one rendered frame put its candles: for mouse hover and click mapping.

    Attributes:
        plot_left: the first column of the plot (candles are drawn from here).
        plot_width: columns of the plot, left of the price axis.
        columns: per plot column, the index into ChartInput.candles shown there (None if none).
        price_top: the first row of the price area; price_rows: its height.
        lo, hi: the price range of the price area (None when nothing is drawn).
    """

    plot_left: int = 0
    plot_width: int = 0
    columns: tuple[int | None, ...] = ()
    price_top: int = 0
    price_rows: int = 0
    lo: float | None = None
    hi: float | None = None

    def index_at(self, x: int) -> int | None:
        """The candle index drawn at column `x` (a slot's free column counts as its candle's), or None."""
        offset = x - self.plot_left
        if not 0 <= offset < len(self.columns):
            return None
        return self.columns[offset]

    def price_at(self, y: int) -> float | None:
        """The price at the middle of row `y` of the price area, or None outside it."""
        row = y - self.price_top
        if self.lo is None or self.hi is None or not 0 <= row < self.price_rows:
            return None
        top = 2 * self.price_rows - 1
        level = 2 * (self.price_rows - 1 - row) + 0.5
        return self.lo + (self.hi - self.lo) * min(1.0, level / top) if top else self.lo


class Layout:
    """One frame's layout: shared by the drawing steps and by `NativeRenderer.geometry`."""

    def __init__(
        self,
        data: ChartInput,
        slots: list[Slot],
        local_index: dict[int, int],
        cursor_time: int | None,
        last: float | None,
        width: int,
        height: int,
    ) -> None:
        self.width, self.height = width, height
        self.top = 1 if data.readout is not None and height - 1 >= MIN_HEIGHT else 0
        body = height - self.top
        self.vol_rows = min(4, max(2, body // 8)) if data.show_volume and body >= 12 else 0
        self.pane_rows = min(8, max(3, body // 5)) if data.pane is not None and body >= 16 else 0
        if body - 2 - self.vol_rows - self.pane_rows < MIN_PRICE_ROWS:
            self.pane_rows = 0
        self.price_rows = body - 2 - self.vol_rows - self.pane_rows
        self.vol_top = self.top + self.price_rows
        self.pane_top = self.vol_top + self.vol_rows
        self.plot_bottom = self.pane_top + self.pane_rows  # first row below the plotted areas
        self.marker_row, self.label_row = height - 2, height - 1
        prices = [p for s in slots if s.candle is not None for p in (s.candle.low, s.candle.high)]
        prices += [last] if last is not None else []
        lo, hi = fit_range(min(prices), max(prices), data.price_step) if prices else (0.0, 1.0)
        self.decimals = decimals_for(data.price_step, max(abs(lo), abs(hi)))
        edge = last if last is not None else lo
        label_w = max(len(format_price(v, self.decimals, grouped=True)) for v in (lo, hi, edge))
        self.compact = 2 + label_w > width // 3
        if self.compact:
            label_w = max(len(compact_price(v)) for v in (lo, hi))
        self.plot_w = width - axis_width(label_w, bool(self.vol_rows), width)
        cells = cells_per_candle(data.zoom)
        self.step = _step(cells, len(slots), self.plot_w)
        self.body_w = 3 if self.step == 4 else cells if cells > 1 else 1
        fit = max(1, self.plot_w // self.step)
        first = max(0, len(slots) - fit)
        cursor_slot = self._slot_of(slots, cursor_time)
        if cursor_slot is not None and cursor_slot < first:
            first = cursor_slot  # the cursor's candle is always in view
        self.slots = slots[first : first + fit]
        self.x0 = self.plot_w - len(self.slots) * self.step
        self._columns = [self._slot_columns(index) for index in range(len(self.slots))]
        self.cursor_slot = None if cursor_slot is None else cursor_slot - first
        self.slot_index: list[int | None] = [
            None if slot.candle is None else local_index.get(slot.time) for slot in self.slots
        ]
        self.candles: list[Candle] = [s.candle for s in self.slots if s.candle is not None]
        self.scale: PriceScale | None = None
        if self.candles or last is not None:
            lows = [min(c.open, c.high, c.low, c.close) for c in self.candles]
            highs = [max(c.open, c.high, c.low, c.close) for c in self.candles]
            extra = [last] if last is not None else []
            lo, hi = fit_range(min(lows + extra), max(highs + extra), data.price_step)
            self.scale = PriceScale(lo, hi, self.price_rows)

    @staticmethod
    def _slot_of(slots: list[Slot], time: int | None) -> int | None:
        if time is None:
            return None
        for index, slot in enumerate(slots):
            if slot.candle is not None and slot.time == time:
                return index
        return None

    def label(self, price: float) -> str:
        return compact_price(price) if self.compact else format_price(price, self.decimals, grouped=True)

    def columns(self, index: int) -> tuple[int, int, range]:
        """(slot start, centre column, body columns) of the index-th visible slot."""
        return self._columns[index]

    def _slot_columns(self, index: int) -> tuple[int, int, range]:
        x = self.x0 + index * self.step
        if self.body_w == 3:
            return x, x + 1, range(x, x + 3)
        return x, x, range(x, x + self.body_w)

    def values(self, values: Sequence[float | None]) -> list[float | None]:
        """`values` (aligned with the candles) picked for each visible slot, drawable or None."""
        size = len(values)
        return [None if at is None or at >= size else sane_value(values[at]) for at in self.slot_index]

    def geometry(self, offset: int) -> Geometry:
        """The public Geometry; `offset` turns trimmed-candle indices back into the caller's."""
        columns: list[int | None] = [None] * self.plot_w
        for index, at in enumerate(self.slot_index):
            if at is None:
                continue
            x = self.x0 + index * self.step
            for col in range(max(0, x), min(self.plot_w, x + self.step)):
                columns[col] = at + offset
        scale = self.scale
        return Geometry(
            plot_left=0,
            plot_width=self.plot_w,
            columns=tuple(columns),
            price_top=self.top,
            price_rows=self.price_rows,
            lo=None if scale is None else scale.lo,
            hi=None if scale is None else scale.hi,
        )

"""Price and time scales shared by the renderers: fitting, half-row mapping, ticks and labels."""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from monitor.market import Candle, Interval

MAX_PRICE = 1e15
"""Prices beyond this (or non-finite) are treated as corrupt and never drawn."""


def is_sane(candle: Candle) -> bool:
    """Whether every price of the candle is finite and within MAX_PRICE (so no NaN/inf reaches a cell)."""
    # Chained comparisons: a NaN fails them, an inf fails the bound (one call per candle per frame).
    top, bottom = MAX_PRICE, -MAX_PRICE
    return (
        bottom <= candle.open <= top
        and bottom <= candle.high <= top
        and bottom <= candle.low <= top
        and bottom <= candle.close <= top
    )


def fit_range(lo: float, hi: float, price_step: float | None) -> tuple[float, float]:
    """Widens a flat (or inverted) range around its middle so the scale never divides by zero."""
    if hi < lo:
        lo, hi = hi, lo
    mid = (lo + hi) / 2
    if hi - lo > abs(mid) * 1e-9 and hi - lo > 1e-12:
        return lo, hi
    pad = max(price_step or 0.0, abs(mid) * 0.01)
    if pad <= 1e-12:
        pad = 1.0
    return mid - pad, mid + pad


@dataclass(frozen=True, slots=True)
class PriceScale:
    """Maps prices to half-rows: `rows` cell rows give 2*rows levels, the top level is `hi`."""

    lo: float
    hi: float
    rows: int

    def level(self, price: float) -> int:
        """The half-row index (0 = lower half of the bottom row) nearest to `price`, clamped."""
        top = 2 * self.rows - 1
        value = (price - self.lo) / (self.hi - self.lo) * top
        if not math.isfinite(value):
            return 0
        return min(top, max(0, round(value)))

    def row(self, price: float) -> int:
        """The cell row (0 = top) that holds `price`."""
        return self.rows - 1 - self.level(price) // 2


def decimals_for(price_step: float | None, magnitude: float) -> int:
    """Label decimals: those of the price step, else about five significant digits of `magnitude`."""
    if price_step is not None and math.isfinite(price_step) and price_step > 0:
        try:
            exponent = Decimal(repr(price_step)).normalize().as_tuple().exponent
        except InvalidOperation:
            exponent = -2
        if isinstance(exponent, int):
            return min(12, max(0, -exponent))
    if not math.isfinite(magnitude) or magnitude <= 0:
        return 2
    return min(12, max(0, 4 - math.floor(math.log10(magnitude))))


def format_price(value: float | None, decimals: int, *, grouped: bool = False) -> str:
    """A fixed-point price ("—" when unknown); `-0.00` reads `0.00`; `grouped` spaces the thousands."""
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}".replace(",", " ") if grouped else f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def compact_price(value: float) -> str:
    """A short label for prices whose fixed-point form would not fit the axis."""
    return f"{value:.3g}"


def nice_ticks(lo: float, hi: float, count: int, step_multiple: float | None) -> list[float]:
    """About `count` round values in [lo, hi], multiples of `step_multiple` when it is given."""
    span = hi - lo
    if span <= 0 or count < 1 or not math.isfinite(span):
        return []
    raw = span / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = magnitude * 10
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if factor * magnitude >= raw:
            step = factor * magnitude
            break
    if step_multiple is not None and math.isfinite(step_multiple) and step_multiple > 0:
        step = max(1, math.ceil(step / step_multiple - 1e-9)) * step_multiple
    first = math.ceil(lo / step - 1e-9)
    ticks: list[float] = []
    index = first
    # The cap guards against float steps that never pass `hi` (a sub-ulp step at a huge price).
    while len(ticks) < 4 * count + 2:
        value = index * step
        if value > hi + step * 1e-9:
            break
        ticks.append(value)
        index += 1
    return ticks


def time_label(ts: int, interval: Interval, tz: datetime.tzinfo) -> str:
    """The axis label of a candle: HH:MM intraday, DD.MM for days and weeks, MM.YY for months."""
    moment = datetime.datetime.fromtimestamp(ts, tz)
    if interval.seconds < 86_400:
        return moment.strftime("%H:%M")
    if interval is Interval.MN1:
        return moment.strftime("%m.%y")
    return moment.strftime("%d.%m")


def tz_name(ts: int, tz: datetime.tzinfo) -> str:
    """The zone's abbreviation at `ts` (MSK, UTC), for the corner of the time axis."""
    return datetime.datetime.fromtimestamp(ts, tz).tzname() or "UTC"


def format_volume(volume: float) -> str:
    """A compact volume label: 950, 12.3k, 4.1M, 2.0B."""
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if volume >= limit:
            return f"{volume / limit:.1f}{suffix}"
    return f"{volume:.0f}"


@dataclass(frozen=True, slots=True)
class Slot:
    """One column position on the time axis: a candle, or a missed period (`candle` is None)."""

    time: int
    candle: Candle | None
    backfilled: bool


def build_slots(
    candles: Sequence[Candle],
    interval: Interval,
    gaps: Sequence[tuple[int, int]],
    backfilled: Sequence[tuple[int, int]],
    limit: int,
    group: int = 1,
) -> list[Slot]:
    """The newest `limit` slots: every sane candle plus one slot per missed period of `gaps`.

    The axis is an index axis (nights and weekends take no room); only gap periods, which are
    known to have been trading time, are given columns of their own. With `group` > 1 the candles
    are aggregated n to a column, so a missed period takes the column of its group.
    """
    if limit <= 0:
        return []
    by_time: dict[int, Candle] = {}
    for candle in candles:
        if is_sane(candle):
            by_time[candle.time] = candle
    times = set(by_time)
    size = interval.seconds * max(1, group)
    span = size * (limit + 1)
    for start, end in gaps:
        # Only the newest `limit` periods of a gap can be visible; a year-long gap must not loop.
        first = max(start, end - span)
        periods = interval.periods(first, end)
        if group > 1:
            periods = sorted({at - at % size for at in periods})
        times.update(at for at in periods if at not in by_time)
    ordered = sorted(times)[-limit:]
    return [Slot(at, by_time.get(at), any(lo <= at < hi for lo, hi in backfilled)) for at in ordered]

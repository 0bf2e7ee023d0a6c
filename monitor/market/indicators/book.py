"""IndicatorBook: indicator lines per series, kept up to date by recomputing only what changed."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field

from monitor.market.book import CandleSeries
from monitor.market.candle import Candle, SeriesKey
from monitor.market.indicators.compute import Calculator, Inputs, calculator
from monitor.market.indicators.spec import IndicatorSpec


@dataclass(frozen=True, slots=True)
class IndicatorValues:
    """One indicator's lines, each aligned with the series' candles (oldest first; None where there
    is not enough data yet). The sequences are the book's own, updated in place by the next
    `IndicatorBook.values` call for the series: read them, never change them."""

    spec: IndicatorSpec
    lines: dict[str, Sequence[float | None]]

    def at(self, index: int) -> dict[str, float | None]:
        """Every line's value at candle `index` (None outside the series)."""
        return {name: line[index] if 0 <= index < len(line) else None for name, line in self.lines.items()}


@dataclass(slots=True)
class _Held:
    """What the book holds of one series: its candles as columns and a calculator per spec."""

    inputs: Inputs = field(default_factory=Inputs)
    version: int = -1
    """The series' version the inputs were last brought up to."""
    changed_from: int | None = None
    """Earliest candle time changed since then at or after the held front (noted by `on_candle`)."""
    noted: bool = False
    """Whether `on_candle` saw every change since then (else the series is read whole)."""
    calculators: dict[IndicatorSpec, _Slot] = field(default_factory=dict)


@dataclass(slots=True)
class _Slot:
    """One indicator over one series: its calculator, its values and where it is stale from."""

    calculator: Calculator
    values: IndicatorValues
    stale_from: int = 0
    """The earliest index whose inputs changed since the calculator last ran."""


class IndicatorBook:
    """Indicator values for every series a panel shows.

    `on_candle` (a feed candle listener, per streamed message) only notes the earliest changed
    time; `values` brings the columns and the asked indicator up to date from the earliest changed
    index. An append or an update of the newest candle costs O(1) amortised; a correction or a
    backfill in the middle recomputes from there; candles prepended (scroll-back) or trimmed from
    the front, seen as a new first time, recompute the series.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[SeriesKey, _Held] = {}

    def on_candle(self, key: SeriesKey, candle: Candle) -> None:
        """Notes that the candle starting at `candle.time` changed in series `key`."""
        held = self._held.get(key)
        if held is None:
            return  # nothing computed for it yet: the first `values` reads it whole
        held.noted = True
        times = held.inputs.times
        if times and candle.time < times[0]:
            return  # prepended (scroll-back): `values` sees the new front and moves it
        if held.changed_from is None or candle.time < held.changed_from:
            held.changed_from = candle.time

    def values(self, series: CandleSeries, spec: IndicatorSpec) -> IndicatorValues:
        """`spec`'s lines over `series` as it is now."""
        held = self._held.get(series.key)
        if held is None:
            held = self._held[series.key] = _Held()
        if held.version != series.version:
            self._sync(held, series)
        slot = held.calculators.get(spec)
        if slot is None:
            made = calculator(spec)
            # The lines are updated in place, so one IndicatorValues serves every call.
            slot = held.calculators[spec] = _Slot(made, IndicatorValues(spec, dict(made.lines)))
        length = len(held.inputs.times)
        if slot.stale_from < length or len(slot.values.lines[spec.lines[0]]) != length:
            slot.calculator.update(held.inputs, slot.stale_from)
            slot.stale_from = length
        return slot.values

    def forget(self, key: SeriesKey) -> None:
        """Drops what is held for `key` (a panel no longer shows it)."""
        self._held.pop(key, None)

    def _sync(self, held: _Held, series: CandleSeries) -> None:
        """Brings `held.inputs` in step with `series`; marks the calculators stale from there."""
        inputs, times = held.inputs, held.inputs.times
        first = next(iter(series)).time if len(series) else None
        start = 0  # new, or moved without a note (on_candle not wired): everything, safe not fast
        if times and held.noted:
            shift = 0 if first == times[0] else _move_front(inputs, series)
            if shift is not None:
                for slot in held.calculators.values() if shift else ():
                    slot.stale_from = slot.calculator.rebase(inputs, shift, slot.stale_from)
                changed = held.changed_from
                start = len(times) if changed is None else bisect_left(times, changed)
        start = max(0, min(start, len(times), len(series)))
        tail = series.last(len(series) - start + 1) if start else []
        if tail and tail[0].time != times[start - 1]:
            # Candles went from the newest end (a trim away from a view that looks back), which
            # no note tells: the held columns are good only up to the first time that differs.
            start = _first_difference(times, series)
            tail = series.last(len(series) - start + 1) if start else []
        inputs.truncate(start)
        for candle in tail[1:] if start else series:
            inputs.append(candle)
        held.version = series.version
        held.changed_from, held.noted = None, False
        for slot in held.calculators.values():
            slot.stale_from = min(slot.stale_from, start)


def _first_difference(times: list[int], series: CandleSeries) -> int:
    """The first index where the held times and the series' differ (the shorter length if none)."""
    for i, (held, candle) in enumerate(zip(times, series, strict=False)):  # the shorter one ends it
        if held != candle.time:
            return i
    return min(len(times), len(series))


def _move_front(inputs: Inputs, series: CandleSeries) -> int | None:
    """Moves the columns' front to the series' one: the candles prepended (scroll-back) put
    before, the ones trimmed dropped. Returns the shift (+prepended, -trimmed), or None when the
    front changed some other way (then everything is read again)."""
    times = inputs.times
    head: list[Candle] = []
    for candle in series:
        if candle.time >= times[0]:
            if candle.time != times[0]:
                break  # the old front is gone: a trim (or worse)
            inputs.prepend(head)
            return len(head)
        head.append(candle)
    if head:
        return None
    cut = bisect_left(times, next(iter(series)).time)
    if cut >= len(times) or times[cut] != next(iter(series)).time:
        return None
    inputs.truncate_front(cut)
    return -cut

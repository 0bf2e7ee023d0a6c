"""What a panel hands its renderer for the window its chart view shows.

Candles (aggregated when zoomed out), cursor, readout, indicator overlays and pane.
"""

from __future__ import annotations

import datetime
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import compress, pairwise
from operator import ne

from monitor.market import Candle, CandleSeries, Interval
from monitor.market.aggregate import aggregate
from monitor.market.indicators import IndicatorBook, IndicatorSpec, IndicatorValues
from monitor.ui.chartview import ChartState, Frame, ZoomLevel, frame
from monitor.ui.render.base import ChartInput, Overlay, Pane, Renderer, Zoom
from monitor.ui.render.readout import candle_state, readout_text

RSI_LEVELS = (30.0, 70.0)
RSI_BOUNDS = (0.0, 100.0)


def render_zoom(zoom: ZoomLevel) -> Zoom:
    return Zoom(cells_per_candle=zoom.cells, candles_per_column=zoom.group)


def visible_candles(renderer: Renderer, width: int, zoom: ZoomLevel) -> int:
    """How many candles of the series fit in `width` cells at `zoom` (groups × their size)."""
    fits = getattr(renderer, "visible_candles", None)  # plotext cannot say: it shows what it gets
    columns = fits(width, render_zoom(zoom)) if fits is not None else max(1, width - 8)
    return max(1, int(columns)) * zoom.group


@dataclass(frozen=True, slots=True)
class Shown:
    """A built chart input, the frame it shows and where each drawn candle's last member is."""

    data: ChartInput
    frame: Frame
    ends: tuple[int, ...]
    """Index in the window of the last candle of each drawn column's group (itself at n = 1)."""


def group_ends(candles: Sequence[Candle], n: int, interval: Interval) -> list[int]:
    """The index of the last member of each time-aligned group of `n`, as `aggregate` groups them."""
    if n <= 1:
        return list(range(len(candles)))
    size = n * interval.seconds  # aggregate's key (group_key), computed once for the window
    keys = [candle.time // size for candle in candles]
    last = len(keys) - 1
    return [i for i, key in enumerate(keys) if i == last or keys[i + 1] != key]


GROUP_CACHE_SIZE = 2_048
"""Aggregated groups remembered (about a dozen screens at the widest zoom); cleared when full."""
_GROUPS: dict[tuple[Interval, int, int], tuple[tuple[Candle, ...], Candle]] = {}
"""(interval, n, group key) -> (members, their aggregate). A hit needs equal members: the merge
depends on nothing else, so a corrected or newly arrived member recomputes its group."""


def aggregated(candles: Sequence[Candle], n: int, interval: Interval) -> tuple[list[Candle], list[int]]:
    """`aggregate(candles, n, interval)` and `group_ends(candles, n, interval)`, in one pass.

    Each group's merge is remembered: scrolling a zoomed-out view re-merges only the groups
    that came into view, not every one of the thousands of candles on the screen.
    """
    if not candles:
        return [], []
    size = n * interval.seconds  # aggregate's key (group_key)
    keys = [candle.time // size for candle in candles]
    bounds = [0, *compress(range(1, len(keys)), map(ne, keys[1:], keys)), len(keys)]
    merged: list[Candle] = []
    cache = _GROUPS
    if len(cache) > GROUP_CACHE_SIZE:
        cache.clear()
    for start, stop in pairwise(bounds):
        members = tuple(candles[start:stop])
        at = (interval, n, keys[start])
        held = cache.get(at)
        if held is None or held[0] != members:
            held = cache[at] = (members, aggregate(members, n, interval)[0])
        merged.append(held[1])
    return merged, [stop - 1 for stop in bounds[1:]]


def _line_label(spec: IndicatorSpec, name: str) -> str:
    return spec.label if len(spec.lines) == 1 else f"{spec.label} {name}"


def _picked(line: Sequence[float | None], offset: int, ends: Sequence[int]) -> tuple[float | None, ...]:
    """A series-aligned line's values at the drawn columns (each group's last member)."""
    size = len(line)
    return tuple(line[offset + end] if 0 <= offset + end < size else None for end in ends)


def indicator_marks(
    values: Sequence[IndicatorValues], offset: int, ends: Sequence[int]
) -> tuple[tuple[Overlay, ...], Pane | None]:
    """The overlays over the candles and the first sub-pane indicator, for the drawn columns."""
    overlays: list[Overlay] = []
    pane: Pane | None = None
    for value in values:
        spec = value.spec
        lines = tuple(
            Overlay(_line_label(spec, name), _picked(value.lines[name], offset, ends))
            for name in spec.lines
            if name != "hist"
        )
        if not spec.pane:
            overlays += lines
        elif pane is None and spec.kind == "rsi":
            pane = Pane(spec.label, lines, levels=RSI_LEVELS, bounds=RSI_BOUNDS)
        elif pane is None:
            hist = value.lines.get("hist")
            pane = Pane(spec.label, lines, histogram=_picked(hist, offset, ends) if hist else None)
    return tuple(overlays), pane


def build_input(
    series: CandleSeries,
    state: ChartState,
    visible: int,
    *,
    interval: Interval,
    last_price: float | None,
    price_step: float | None,
    tz: datetime.tzinfo,
    show_volume: bool,
    book: IndicatorBook | None = None,
    specs: Sequence[IndicatorSpec] = (),
) -> Shown:
    """The ChartInput of the window `state` shows, with its readout and indicators."""
    shown = frame(state, series, visible)
    raw = series.window(shown.start, shown.stop)
    zoom = state.zoom_level
    if zoom.group > 1:
        candles, ends = aggregated(raw, zoom.group, interval)
    else:
        candles, ends = raw, list(range(len(raw)))
    values = [book.values(series, spec) for spec in specs] if book is not None else []
    overlays, pane = indicator_marks(values, shown.start, ends)
    cursor, readout = None, None
    if shown.cursor is not None and candles:
        held = raw[shown.cursor]
        # The column holding the cursor's candle (its group, when zoomed out).
        cursor = max(0, bisect_right([c.time for c in candles], held.time) - 1)
        column = candles[cursor]
        previous = candles[cursor - 1].close if cursor > 0 else None
        readings = {
            _line_label(value.spec, name): value.at(shown.start + ends[cursor])[name]
            for value in values
            for name in value.spec.lines
        }
        readout = readout_text(column, previous, candle_state(column), tz, price_step, readings)
    data = ChartInput(
        candles=candles,
        interval=interval,
        gaps=tuple(series.gaps),
        backfilled=tuple(series.backfilled),
        last_price=last_price,
        price_step=price_step,
        tz=tz,
        show_volume=show_volume,
        cursor=cursor,
        overlays=overlays,
        pane=pane,
        zoom=render_zoom(zoom),
        readout=readout,
    )
    return Shown(data, shown, tuple(ends))

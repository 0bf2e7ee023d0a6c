"""The chart view of one panel: cursor, scroll-back, zoom and the newer data waiting, without Textual."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from monitor.market import Candle, WatchKey


@dataclass(frozen=True, slots=True)
class ZoomLevel:
    """How candles map to columns: `cells` columns per candle (zoomed in) or `group` candles per
    column (zoomed out, aggregated); one of the two is always 1."""

    cells: int = 1
    group: int = 1

    @property
    def label(self) -> str:
        return f"{self.cells} cells/candle" if self.cells > 1 else f"{self.group} candles/column"


ZOOM_LEVELS: tuple[ZoomLevel, ...] = (
    ZoomLevel(cells=3),
    ZoomLevel(cells=2),
    ZoomLevel(),
    *(ZoomLevel(group=n) for n in (2, 4, 8, 16)),
)
DEFAULT_ZOOM = 2
"""Index of one candle per column, the zoom every panel starts at."""


class SeriesLike(Protocol):
    """What the view reads of a CandleSeries: its length, a bisect by time and an O(k) slice."""

    def __len__(self) -> int: ...

    def index_of(self, time: int) -> int: ...

    def window(self, start: int, stop: int) -> list[Candle]: ...


def time_at(series: SeriesLike, index: int) -> int:
    return series.window(index, index + 1)[0].time


@dataclass(frozen=True, slots=True)
class ChartState:
    """Where a panel looks, anchored by candle start times so arriving candles never move it.

    `right` is the time of the candle at the right edge (None: the live edge, following the
    stream); `cursor` the time of the candle under the cursor (None: no cursor); `newest_seen` the
    newest candle's time when the view left the live edge (what arrived since is "waiting").
    """

    zoom: int = DEFAULT_ZOOM
    right: int | None = None
    cursor: int | None = None
    newest_seen: int | None = None

    @property
    def live(self) -> bool:
        return self.right is None

    @property
    def zoom_level(self) -> ZoomLevel:
        return ZOOM_LEVELS[self.zoom]


LIVE = ChartState()
"""The state every panel starts in: live edge, no cursor, one candle per column."""


@dataclass(frozen=True, slots=True)
class Frame:
    """The candles a panel shows now: [start, stop) of the series, the cursor's index in that window."""

    start: int
    stop: int
    cursor: int | None
    newer: int
    """Candles that arrived after the view left the live edge."""
    back_seconds: int
    """How far the right edge is behind the newest candle."""


def frame(state: ChartState, series: SeriesLike, visible: int) -> Frame:
    """The window of `series` that `state` shows when `visible` candles fit."""
    size, visible = len(series), max(1, visible)
    if size == 0:
        return Frame(0, 0, None, 0, 0)
    stop = size if state.right is None else min(size, series.index_of(state.right) + 1)
    # The view is always full: trimmed or missing candles on its left never leave it half empty.
    stop = max(stop, min(size, visible))
    start = max(0, stop - visible)
    cursor = None
    if state.cursor is not None:
        cursor = min(stop - 1, max(start, series.index_of(state.cursor))) - start
    newer = 0
    if state.newest_seen is not None:
        newer = max(0, size - series.index_of(state.newest_seen) - 1)
    back = 0 if stop == size else time_at(series, size - 1) - time_at(series, stop - 1)
    return Frame(start, stop, cursor, newer, back)


def _show(state: ChartState, series: SeriesLike, right: int, cursor: int | None) -> ChartState:
    """`state` with its right edge at index `right` (the live edge when that is the newest) and the
    cursor on index `cursor`."""
    size = len(series)
    right = max(0, min(size - 1, right))
    cursor_time = None if cursor is None else time_at(series, max(0, min(size - 1, cursor)))
    if right >= size - 1:
        return replace(state, right=None, cursor=cursor_time, newest_seen=None)
    seen = state.newest_seen if state.newest_seen is not None else time_at(series, size - 1)
    return replace(state, right=time_at(series, right), cursor=cursor_time, newest_seen=seen)


def move_cursor(state: ChartState, series: SeriesLike, visible: int, candles: int) -> ChartState:
    """The cursor moved by `candles` (the first move puts it on the newest candle shown); the view
    scrolls to keep it in sight, back past the left edge or forward up to the live edge."""
    if len(series) == 0:
        return state
    shown = frame(state, series, visible)
    if shown.cursor is None:
        return _show(state, series, shown.stop - 1, shown.stop - 1)
    cursor = max(0, min(len(series) - 1, shown.start + shown.cursor + candles))
    right = shown.stop - 1
    if cursor < shown.start:
        right = cursor + (shown.stop - shown.start) - 1
    elif cursor > right:
        right = cursor
    return _show(state, series, right, cursor)


def pan(state: ChartState, series: SeriesLike, visible: int, candles: int) -> ChartState:
    """The view moved by `candles` (negative: back in time); the cursor stays on its candle."""
    if len(series) == 0:
        return state
    shown = frame(state, series, visible)
    right = max(min(len(series), visible) - 1, shown.stop - 1 + candles)
    cursor = None if shown.cursor is None else shown.start + shown.cursor
    moved = _show(state, series, right, None)
    return replace(moved, cursor=None if cursor is None else time_at(series, cursor))


def go_live(state: ChartState) -> ChartState:
    """Back to the live edge: no cursor, the newest candle on the right, following the stream."""
    return replace(state, right=None, cursor=None, newest_seen=None)


def go_oldest(state: ChartState, series: SeriesLike, visible: int) -> ChartState:
    """The oldest candle held at the left edge (and under the cursor when the cursor is on)."""
    if len(series) == 0:
        return state
    return _show(state, series, min(len(series), visible) - 1, 0 if state.cursor is not None else None)


def hover(state: ChartState, series: SeriesLike, visible: int, index: int | None) -> ChartState:
    """The cursor on the `index`-th candle of the window (None: the pointer is off the candles)."""
    if index is None or len(series) == 0:
        return state
    shown = frame(state, series, visible)
    target = shown.start + index
    if not shown.start <= target < shown.stop:
        return state
    return replace(state, cursor=time_at(series, target))


def zoom(state: ChartState, step: int) -> ChartState:
    """One zoom level in (step < 0: wider candles) or out (step > 0: more candles per column)."""
    return replace(state, zoom=max(0, min(len(ZOOM_LEVELS) - 1, state.zoom + step)))


def wants_older(state: ChartState, series: SeriesLike, visible: int) -> bool:
    """Whether the view reached the oldest candle held while looking back (load the page before)."""
    return len(series) > 0 and frame(state, series, visible).start == 0 and not state.live


def format_span(seconds: int) -> str:
    """A distance back in time, two units at most: 45m, 3h 20m, 2d 4h."""
    minutes = max(0, seconds) // 60
    days, hours, mins = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"


def history_label(
    state: ChartState, shown: Frame, loading: bool, at_start: bool, error: str | None = None
) -> str:
    """The panel header's word on where the view is: HISTORY −3h 20m · +12 new · loading… ."""
    parts: list[str] = []
    if not state.live:
        parts.append(f"HISTORY −{format_span(shown.back_seconds)}")
    if shown.newer:
        parts.append(f"+{shown.newer} new")
    if loading:
        parts.append("loading…")
    elif at_start and shown.start == 0 and shown.stop > shown.start and not state.live:
        parts.append("start of history")
    elif error and not state.live:
        parts.append("load failed")
    return " · ".join(parts)


class ChartViews:
    """The chart state of each panel, dropped when the panel shows another series."""

    def __init__(self) -> None:
        self._states: dict[int, tuple[WatchKey, ChartState]] = {}

    def get(self, panel: int, key: WatchKey | None) -> ChartState:
        held = self._states.get(panel)
        return held[1] if held is not None and held[0] == key else LIVE

    def set(self, panel: int, key: WatchKey, state: ChartState) -> None:
        self._states[panel] = (key, state)

    def states(self) -> Sequence[tuple[int, WatchKey, ChartState]]:
        return [(panel, key, state) for panel, (key, state) in self._states.items()]

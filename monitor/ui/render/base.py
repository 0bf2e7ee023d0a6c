"""The renderer interface: what a chart panel hands a renderer and what it gets back."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from textual.strip import Strip

from monitor.market import Candle, Interval

if TYPE_CHECKING:
    from monitor.ui.render.geometry import Geometry  # geometry imports this module


@dataclass(frozen=True)
class ChartStyle:
    """Colours (Rich colour names) of one chart; hashable so renderers can cache their styles."""

    up: str = "green"
    down: str = "red"
    forming_dim: bool = True
    axis: str = "grey50"
    gap: str = "grey35"
    backfill: str = "dark_cyan"
    last_price: str = "yellow"
    cursor: str = "bright_white"
    lines: tuple[str, ...] = ("bright_cyan", "bright_magenta", "orange1", "bright_blue", "yellow3")
    """Colours of indicator lines that do not name their own, in order."""
    background: str | None = None


@dataclass(frozen=True)
class Overlay:
    """One indicator line, aligned with the chart's candles (None where it has no value yet)."""

    label: str
    values: Sequence[float | None]
    color: str | None = None


@dataclass(frozen=True)
class Pane:
    """An indicator sub-pane under the volume bars (RSI, MACD).

    Attributes:
        label: shown in the pane's top-left corner.
        lines: lines drawn in the pane, aligned with the candles.
        histogram: bars drawn from 0 (MACD's hist), aligned with the candles.
        levels: horizontal guide values (RSI 30/70), labelled on the axis.
        bounds: the fixed value range (RSI 0-100); None fits the visible values (symmetric
            around 0 when there is a histogram).
    """

    label: str
    lines: tuple[Overlay, ...] = ()
    histogram: Sequence[float | None] | None = None
    levels: tuple[float, ...] = ()
    bounds: tuple[float, float] | None = None


@dataclass(frozen=True)
class Zoom:
    """How candles map to columns: each candle `cells_per_candle` (1-3) cells wide, or (when
    `candles_per_column` > 1) the caller's candles already aggregated n to a column."""

    cells_per_candle: int = 1
    candles_per_column: int = 1


@dataclass(frozen=True)
class ChartInput:
    """One chart's data: candles oldest to newest plus the marks drawn around them.

    Attributes:
        candles: the series, oldest first; the forming candle (closed=False) is usually last.
        interval: the candle interval (slot arithmetic and time-label format).
        gaps: missed [start, end) ranges not yet backfilled (UTC epoch seconds).
        backfilled: [start, end) ranges that were filled by GetCandles after a gap.
        last_price: the last trade price, marked on the price axis.
        price_step: the instrument's minimum price increment (label decimals).
        tz: time zone of the time-axis labels.
        show_volume: draw volume bars under the price area when there is room.
        cursor: index into `candles` of the candle under the cursor (highlighted, close marked).
        overlays: lines drawn over the price area, clipped to the candles' price range.
        pane: an indicator sub-pane drawn under the volume when there is room.
        zoom: candle width / aggregation of the columns.
        readout: a line drawn at the top of the chart area when set.
    """

    candles: Sequence[Candle]
    interval: Interval
    gaps: Sequence[tuple[int, int]] = ()
    backfilled: Sequence[tuple[int, int]] = ()
    last_price: float | None = None
    price_step: float | None = None
    tz: datetime.tzinfo = datetime.UTC
    show_volume: bool = True
    cursor: int | None = None
    overlays: tuple[Overlay, ...] = ()
    pane: Pane | None = None
    zoom: Zoom = Zoom()
    readout: str | None = None


class Renderer(Protocol):
    """Draws a ChartInput into exactly `height` strips of exactly `width` cells each."""

    def render(self, data: ChartInput, width: int, height: int, style: ChartStyle) -> list[Strip]:
        """Renders the chart; never raises for any finite input, any size >= 0."""
        ...

    def geometry(self, data: ChartInput, width: int, height: int) -> Geometry:
        """Where `render` puts the candles of `data` at this size (mouse hover and clicks)."""
        ...

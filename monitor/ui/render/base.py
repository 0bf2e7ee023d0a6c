"""The renderer interface: what a chart panel hands a renderer and what it gets back."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from textual.strip import Strip

from monitor.market import Candle, Interval


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
    background: str | None = None


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
    """

    candles: Sequence[Candle]
    interval: Interval
    gaps: Sequence[tuple[int, int]] = ()
    backfilled: Sequence[tuple[int, int]] = ()
    last_price: float | None = None
    price_step: float | None = None
    tz: datetime.tzinfo = datetime.UTC
    show_volume: bool = True


class Renderer(Protocol):
    """Draws a ChartInput into exactly `height` strips of exactly `width` cells each."""

    def render(self, data: ChartInput, width: int, height: int, style: ChartStyle) -> list[Strip]:
        """Renders the chart; never raises for any finite input, any size >= 0."""
        ...

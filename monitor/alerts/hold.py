"""Holding a series' live values until the backfill they must come after is in the book."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.market import Candle, CandleSeries


@dataclass(slots=True)
class Hold:
    """A series whose live values wait: after an outage for its gap fill (so a crossing during the
    outage fires from the backfilled candle, marked offline, not from the first live price), after
    a restart for its initial history (which holds what happened while the monitor was off).

    `backfilled` is the series' backfilled ranges when the outage began (a change means the gap
    fill is in); None waits for the initial history instead.
    """

    backfilled: list[tuple[int, int]] | None
    deadline: float | None = None
    """When the wait ends regardless (a gap fill that never changes the ranges, a slow history)."""
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)
    """The newest held (price, time) per uid."""
    candles: list[Candle] = field(default_factory=list)
    """Held closed candles, in arrival order."""

    def over(self, series: CandleSeries | None, now: float) -> bool:
        """Whether what the hold waits for is in (or it waited long enough)."""
        if series is None:
            return True
        if self.backfilled is None:
            filled = series.history_loaded
        else:
            filled = list(series.backfilled) != self.backfilled
        return filled or (self.deadline is not None and now >= self.deadline)

"""The alert engine's `indicator` function over an IndicatorBook (SMA/EMA of a series at a candle)."""

from __future__ import annotations

from monitor.alerts.engine import Indicator
from monitor.market import CandleSeries
from monitor.market.indicators import IndicatorBook, IndicatorSpec


def book_indicator(book: IndicatorBook) -> Indicator:
    """`indicator(series, kind, n, time)` reading `book` (shared with the chart: one computation).

    The book recomputes only from the earliest changed candle, so a rule evaluated on every closed
    candle costs O(1) amortised per candle.
    """

    def indicator(series: CandleSeries, kind: str, n: int, time: int) -> float | None:
        index = series.index_of(time)
        if index >= len(series) or series.window(index, index + 1)[0].time != time:
            return None  # the candle is gone (trimmed): nothing to compare with
        values = book.values(series, IndicatorSpec(kind, (float(n),)))
        return values.at(index).get(kind)

    return indicator

"""Keeps full garbage collections out of frames: held candles are frozen out of the collector's scans."""

from __future__ import annotations

import gc
from collections.abc import Iterable

from monitor.market import CandleSeries, SeriesKey

FREEZE_STEP = 1_000
"""Candles that must land (history, a scroll-back page: a 1m page is a day, ~1,440) before a freeze."""


class GcPolicy:
    """Freezes the collector's tracked objects after bulk long-lived data lands.

    Why: a candle is a namedtuple, so CPython's cyclic collector tracks it, and a full (gen-2)
    collection walks every one held: with 20,000 candles plus the app, that one pass took
    80-130 ms, inside whichever frame triggered it, several times per scroll-back. Candles
    never form cycles (floats, ints and bools in a tuple), so the collector can never free one:
    walking them is pure cost. `gc.freeze()` moves every tracked object into the permanent
    generation, which collections skip; later full passes walk only what arrived since.

    What it costs, and why that is acceptable:
    - Cyclic garbage that exists at the moment of a freeze is never collected. `gc.collect(1)`
      first frees the young generations' garbage (cheap: they are small), so what is lost is the
      cyclic garbage already in the old generation since the last full pass. Full passes keep
      running on everything unfrozen, so that amount is bounded per freeze, and freezes happen
      only per FREEZE_STEP candles landed (startup history and each page the user asks for),
      not per tick: the soak benchmark's RSS shows no growth.
    - Frozen objects are still freed by reference counting, so trimmed candles (and everything
      else without cycles) go away as before.
    """

    def __init__(self, step: int = FREEZE_STEP) -> None:
        self._step = step
        self._marks: dict[SeriesKey, tuple[int, int]] = {}
        """(first, last) candle time of each series at the last freeze: what is outside is new."""
        self.freezes = 0

    def after_tick(self, held: Iterable[CandleSeries | None]) -> bool:
        """Freezes when at least `step` candles landed in `held` since the last freeze; True if it did."""
        series = [s for s in held if s is not None and len(s)]
        landed = 0
        for one in series:
            mark = self._marks.get(one.key)
            if mark is None:
                landed += len(one)
            else:
                # O(log n): candles older than the marked first, newer than the marked last.
                landed += one.index_of(mark[0]) + len(one) - one.index_of(mark[1] + 1)
        if landed < self._step:
            return False
        gc.collect(1)
        gc.freeze()
        self.freezes += 1
        self._marks = {one.key: _span(one) for one in series}
        return True


def _span(series: CandleSeries) -> tuple[int, int]:
    oldest, newest = series.oldest, series.newest
    assert oldest is not None and newest is not None  # only non-empty series are marked
    return oldest.time, newest.time

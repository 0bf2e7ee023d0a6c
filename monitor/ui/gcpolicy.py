"""Keeps full garbage collections out of frames: held candles are frozen out of the collector's scans."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterable

from monitor.market import CandleSeries, SeriesKey

FREEZE_STEP = 1_000
"""Candles that must land (history, a scroll-back page: a 1m page is a day, ~1,440) before a freeze."""
GEN2_THRESHOLD = 1_000
"""The collector's third threshold while the policy is active: 100x CPython's 10, so automatic full
passes (which land inside whatever frame allocates) become rare; `when_idle` runs them instead."""
IDLE_AFTER_S = 0.5
"""No input and no frame for this long: the user stopped scrolling, a full pass now delays nothing."""
BOUND_S = 10.0
"""At most this long between full passes, idle or not: cyclic garbage in the old generation is freed
within it (an app streaming live candles may redraw every tick and never go idle)."""
CHECK_EVERY_S = 0.25
"""How often the app calls `when_idle` (a timer: it runs between frames, never inside one)."""


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

    Full passes out of frames: even after a freeze, a full pass walks the ~16,000 unfrozen objects
    (mostly Textual strips and segments) for 2-7 ms inside whichever frame tripped it. Once the
    first freeze happened, the policy raises the gen-2 threshold to GEN2_THRESHOLD and runs the
    full pass itself from `when_idle` (a timer): after IDLE_AFTER_S without input (`note_input`)
    or a drawn frame (`after_tick`); when the collector would have run one by its old threshold;
    and in any case BOUND_S after the last one. So cyclic garbage cannot pile up: RSS stays where
    the collector's own schedule kept it. `stop()` (the app's unmount) puts the thresholds back.
    """

    def __init__(
        self,
        step: int = FREEZE_STEP,
        *,
        now: Callable[[], float] = time.monotonic,
        idle_after: float = IDLE_AFTER_S,
        bound: float = BOUND_S,
    ) -> None:
        self._step = step
        self._now = now
        """Monotonic seconds (a ManualClock's `now` in tests): a wall-clock jump must not stall passes."""
        self._idle_after = idle_after
        self._bound = bound
        self._marks: dict[SeriesKey, tuple[int, int]] = {}
        """(first, last) candle time of each series at the last freeze: what is outside is new."""
        self._thresholds: tuple[int, int, int] | None = None
        """The collector's thresholds before the policy raised them; None while it is not active."""
        self._last_activity = self._last_full = now()
        self.freezes = 0
        self.full_passes = 0
        """Full collections the policy ran itself (at idle or at the bound)."""

    @property
    def active(self) -> bool:
        """True from the first freeze until `stop()`: the gen-2 threshold is raised meanwhile."""
        return self._thresholds is not None

    def note_input(self) -> None:
        """A key or mouse event arrived: the user is busy, the idle pass waits."""
        self._last_activity = self._now()

    def when_idle(self) -> bool:
        """Runs a full pass when idle since the last activity, or when the bound is due; True if it did.

        Called from a timer, so it never runs inside a frame. Idle, it runs once per burst of
        activity: with nothing new since the last pass there is nothing new to collect.
        """
        if self._thresholds is None:
            return False
        now = self._now()
        idle = now - self._last_activity >= self._idle_after and self._last_activity > self._last_full
        # Due by the collector's own count (young passes since the last full one, against the
        # threshold it had): Textual's strips cache themselves in cycles, tens of thousands of
        # objects a second while frames are drawn, so a busy app gets its full passes as often as
        # before, only here, between frames, instead of inside one.
        due = gc.get_count()[2] >= max(1, self._thresholds[2])
        if not (idle or due) and now - self._last_full < self._bound:
            return False
        gc.collect()
        self._last_full = self._now()
        self.full_passes += 1
        return True

    def stop(self) -> None:
        """Puts the collector's thresholds back as they were before the policy started."""
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            self._thresholds = None

    def after_tick(self, held: Iterable[CandleSeries | None]) -> bool:
        """A frame was drawn: freezes when at least `step` candles landed in `held` since the last
        freeze (the first freeze starts the policy); True if it did."""
        self._last_activity = self._now()
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
        if self._thresholds is None:
            self._thresholds = gc.get_threshold()
            young, middle, old = self._thresholds
            gc.set_threshold(young, middle, max(old, GEN2_THRESHOLD))
            self._last_full = self._now()  # the bound counts from here: nothing was due before
        self._marks = {one.key: _span(one) for one in series}
        return True


def _span(series: CandleSeries) -> tuple[int, int]:
    oldest, newest = series.oldest, series.newest
    assert oldest is not None and newest is not None  # only non-empty series are marked
    return oldest.time, newest.time

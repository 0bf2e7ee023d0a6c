"""The candle book: bounded candle series per (instrument, interval), upserted by start time."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from monitor.market.candle import Candle, SeriesKey
from monitor.market.ranges import RangeSet

DEFAULT_CAPACITY = 50_000
"""Candles a series holds by default (the `feed.max_candles` setting)."""
UNCONFIRMED_DEPTH = 64
"""How many periods back `CandleSeries.unconfirmed_before` looks for a forming candle."""
LIVE_TAIL = UNCONFIRMED_DEPTH
"""Newest candles a trim never drops while the user looks back: the forming candle and the
periods the feed may still confirm or correct stay, so the live edge keeps filling."""


@dataclass(slots=True)
class Quote:
    """The latest price of one instrument and the session's opening price, for the watchlist."""

    price: float | None = None
    time: float | None = None
    session_open: float | None = None

    @property
    def change(self) -> float | None:
        """Relative change since the session's open (0.01 = +1 %), when both prices are known."""
        if self.price is None or not self.session_open:
            return None
        return self.price / self.session_open - 1.0


class CandleSeries:
    """One series, ordered by candle start time, bounded to `capacity` candles.

    Upserting by start time makes corrections and backfill overwrite instead of duplicating.
    A candle is closed only on the server's word (the feed decides: a later period on the same
    stream, or GetCandles saying the period is complete), never because a clock passed its end: a
    period that is over but unconfirmed stays forming, so nobody acts on values that are not
    final. `version` grows on every change, so a panel redraws only when its series moved.

    Bounded to `capacity` candles (trimmed in batches), on the side away from `anchor`: with no
    anchor (the view follows the live edge) the oldest go; while the user looks back, candles
    go from the oldest end down to a quarter of the capacity before the anchor, and then from
    the newer side, never the newest `LIVE_TAIL`. A span dropped on the newer side is recorded
    in `trimmed` (a hole, not a market gap) so the feed can fetch it again once the view is
    back at the live edge.
    """

    __slots__ = (
        "_candles",
        "_times",
        "anchor",
        "backfilled",
        "capacity",
        "gaps",
        "history_loaded",
        "key",
        "received_at",
        "trimmed",
        "version",
    )

    def __init__(self, key: SeriesKey, capacity: int = DEFAULT_CAPACITY) -> None:
        self.key = key
        self.capacity = capacity
        self._times: list[int] = []
        self._candles: dict[int, Candle] = {}
        self.gaps = RangeSet()
        """Periods known to be missed (an outage) and not yet backfilled."""
        self.backfilled = RangeSet()
        """Periods filled from GetCandles after an outage."""
        self.version = 0
        """Grows on every change (only the series' own methods move it)."""
        self.received_at: float | None = None
        """Clock time of the newest received candle that changed the series (history aside)."""
        self.history_loaded = False
        """Whether the initial history is in (`mark_history_loaded`, once, by the feed's backfill)."""
        self.anchor: int | None = None
        """Start time of the candle the user looks at (set by the UI); None follows the live edge.
        Moving it changes no data, so it leaves `version` alone."""
        self.trimmed = RangeSet()
        """Spans dropped on the newer side while the user looked back (refetched by the feed)."""

    def __len__(self) -> int:
        return len(self._times)

    def __iter__(self) -> Iterator[Candle]:
        candles = self._candles
        return (candles[t] for t in self._times)

    def get(self, time: int) -> Candle | None:
        """The candle that starts at `time`, if the series holds it."""
        return self._candles.get(time)

    def upsert(self, candle: Candle, received_at: float | None = None) -> bool:
        """Inserts or replaces the candle of its period; returns whether the series changed.

        `received_at` is the clock time a streamed candle arrived (None for history): a change
        stamps it as the series' data age.
        """
        # The receive loop calls this per streamed message: locals over repeated attribute reads.
        candles, time = self._candles, candle.time
        existing = candles.get(time)
        if existing is not None:
            # A period's volume only grows (trades are only ever added, corrections bring late
            # ones), so an update with less volume is stale: a forming state that arrived after
            # the backfill or the closing candle. And a forming update never reopens a closed period.
            volume, held = candle.volume, existing.volume
            # The whole-candle comparison only when the volume did not grow (rare on a live stream).
            if (volume <= held and (volume < held or existing == candle)) or (
                existing.closed and not candle.closed
            ):
                return False
            candles[time] = candle
            self.version += 1
            if received_at is not None:
                self.received_at = received_at
            return True
        times = self._times
        if not times or time > times[-1]:
            times.append(time)
        else:
            if time < times[0] and len(times) >= self.capacity and self.anchor is None:
                return False  # older than everything a full series following the live edge keeps
            times.insert(bisect_left(times, time), time)
        candles[time] = candle
        self._trim()
        self.version += 1
        if received_at is not None:
            self.received_at = received_at
        return True

    def merge_history(self, candles: Iterable[Candle]) -> list[Candle]:
        """Upserts a batch of history (a scroll-back page, a refetched span); returns the candles
        that changed the series, oldest first.

        One sort merges the new periods in, O(n + k) (the held times and the batch are two sorted
        runs), where k upserts would move the whole list k times: a page of 1,440 candles before
        50,000 held would hold the event loop for tens of milliseconds.
        """
        candles_by_time, times = self._candles, self._times
        full_at_live_edge = len(times) >= self.capacity and self.anchor is None
        oldest = times[0] if times else None
        changed: list[Candle] = []
        fresh: dict[int, Candle] = {}
        for candle in candles:
            if candle.time in candles_by_time:
                if self.upsert(candle):  # replaced in place: no insert cost
                    changed.append(candle)
            elif not (full_at_live_edge and oldest is not None and candle.time < oldest):
                # (upsert's rule: a full series at the live edge keeps nothing older)
                earlier = fresh.get(candle.time)
                if earlier is None or _replaces(candle, earlier):
                    fresh[candle.time] = candle
        if fresh:
            candles_by_time.update(fresh)
            times.extend(fresh)
            times.sort()
            self._trim()
            self.version += 1
            changed.extend(c for c in fresh.values() if candles_by_time.get(c.time) is c)
            changed.sort(key=_start)
        return changed

    def last(self, count: int | None = None) -> list[Candle]:
        """The newest `count` candles (all when None), oldest first."""
        times = self._times if count is None else self._times[-count:]
        candles = self._candles
        return [candles[t] for t in times]

    def index_of(self, time: int) -> int:
        """Index of the first candle starting at or after `time` (bisect: O(log n))."""
        return bisect_left(self._times, time)

    def window(self, start: int, stop: int) -> list[Candle]:
        """The candles at indexes [start, stop), oldest first (a slice: O(stop - start))."""
        candles = self._candles
        return [candles[t] for t in self._times[start:stop]]

    @property
    def oldest(self) -> Candle | None:
        """The oldest candle held."""
        return self._candles[self._times[0]] if self._times else None

    @property
    def newest(self) -> Candle | None:
        """The newest candle (the forming one while its period runs)."""
        return self._candles[self._times[-1]] if self._times else None

    @property
    def forming(self) -> Candle | None:
        """The newest candle when it is still forming."""
        newest = self.newest
        return newest if newest is not None and not newest.closed else None

    def last_closed_time(self) -> int | None:
        """Start of the newest closed candle, the point a backfill resumes from."""
        for t in reversed(self._times):
            if self._candles[t].closed:
                return t
        return None

    def close(self, time: int) -> Candle | None:
        """Marks the candle of the period starting at `time` closed (the server confirmed it is
        over); returns the closed candle, or None when there is none or it was already closed."""
        candle = self._candles.get(time)
        if candle is None or candle.closed:
            return None
        closed = self._candles[time] = candle._replace(closed=True)
        self.version += 1
        return closed

    def unconfirmed_before(self, start: int, depth: int = UNCONFIRMED_DEPTH) -> int | None:
        """Start of the oldest forming candle among the newest `depth` that begin before `start`:
        a period over on the clock that the server has not confirmed yet (None when there is none).

        Forming candles are not only at the tail: after a reconnect, the period the old stream was
        forming sits below the ones the new stream closed. The depth bounds the scan (it runs per
        series at period ends); anything older is the gap fill's to confirm.
        """
        times = self._times
        stop = bisect_left(times, start)
        candles = self._candles
        oldest: int | None = None
        for t in times[max(0, stop - depth) : stop]:
            if not candles[t].closed:
                oldest = t
                break
        return oldest

    def mark_history_loaded(self) -> None:
        """Records that the initial history is in the series (a reader may print in time order)."""
        self.history_loaded = True

    def mark_gap(self, start: int, end: int) -> None:
        """Records [start, end) as missed: shown as a gap until backfilled."""
        if end > start:
            self.gaps.add(start, end)
            self.version += 1

    def mark_backfilled(self, start: int, end: int) -> None:
        """Records [start, end) as filled from history: the gap closes, the range stays marked."""
        if end > start:
            self.gaps.remove(start, end)
            self.backfilled.add(start, end)
            self.version += 1

    def mark_refilled(self, start: int, end: int) -> None:
        """Records that the trimmed span [start, end) was fetched again."""
        if end > start and self.trimmed:
            self.trimmed.remove(start, end)
            self.version += 1

    def _trim(self) -> None:
        # Trim in chunks so that the append path stays O(1) amortised.
        times = self._times
        excess = len(times) - self.capacity
        if excess <= max(16, self.capacity // 8):
            return
        older = excess
        if self.anchor is not None:
            # Keep a quarter of the capacity before the anchor: the user goes on scrolling back.
            before = bisect_left(times, self.anchor)
            older = min(excess, max(0, before - self.capacity // 4))
            tail = min(LIVE_TAIL, self.capacity // 4)
            # The newer side gives what is left, between the anchor and the live tail.
            newer = min(excess - older, max(0, len(times) - tail - before - 1))
            older = excess - newer
            if newer:
                stop = len(times) - tail
                self.trimmed.add(times[stop - newer], times[stop])
                self._drop(stop - newer, stop)
        if older:
            self._drop(0, older)
            first = times[0]
            self.gaps.remove(0, first)
            self.backfilled.remove(0, first)
            self.trimmed.remove(0, first)

    def _drop(self, start: int, stop: int) -> None:
        candles = self._candles
        for t in self._times[start:stop]:
            del candles[t]
        del self._times[start:stop]


def _start(candle: Candle) -> int:
    return candle.time


def _replaces(candle: Candle, held: Candle) -> bool:
    """Whether `candle` supersedes `held` of the same period: upsert's rule (inlined there, on the
    receive loop's path): more volume, or as much with other values, and never closed to forming."""
    if held.closed and not candle.closed:
        return False
    return candle.volume > held.volume or (candle.volume == held.volume and candle != held)


class CandleBook:
    """Every series and quote the monitor holds; the single source of truth for market data.

    Series are never dropped (a panel that goes away leaves a bounded series behind), so whoever
    holds a CandleSeries may keep it.
    """

    __slots__ = ("_quotes_version", "_series", "capacity", "quotes")

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._series: dict[SeriesKey, CandleSeries] = {}
        self.quotes: dict[str, Quote] = {}
        """Latest price per instrument uid (read-only: `set_price`/`set_session_open` change it)."""
        self._quotes_version = 0

    @property
    def version(self) -> int:
        """Grows on every change anywhere in the book: the series' versions plus the quotes'.

        Summed when read (a redraw check, a few times a second) so that the receive loop only
        touches the series it upserts into.
        """
        return self._quotes_version + sum(series.version for series in self._series.values())

    def series(self, key: SeriesKey) -> CandleSeries:
        """The series for `key`, created empty on first use."""
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = CandleSeries(key, self.capacity)
        return found

    def find(self, key: SeriesKey) -> CandleSeries | None:
        """The series for `key` if it exists (never creates one)."""
        return self._series.get(key)

    def upsert(self, key: SeriesKey, candle: Candle, received_at: float | None = None) -> bool:
        """Upserts a candle into its series; returns whether anything changed."""
        return self.series(key).upsert(candle, received_at)

    def keys(self) -> list[SeriesKey]:
        """Every series held."""
        return list(self._series)

    def _quote(self, uid: str) -> Quote:
        found = self.quotes.get(uid)
        if found is None:
            found = self.quotes[uid] = Quote()
        return found

    def set_price(self, uid: str, price: float, time: float) -> None:
        """Records a last price (newest wins: an older price never replaces a newer one)."""
        quote = self._quote(uid)
        if quote.time is not None and time < quote.time:
            return
        quote.price, quote.time = price, time
        self._quotes_version += 1

    def set_session_open(self, uid: str, price: float) -> None:
        """Records the opening price of the instrument's current session."""
        quote = self._quote(uid)
        if quote.session_open != price:
            quote.session_open = price
            self._quotes_version += 1

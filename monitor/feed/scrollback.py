"""Scroll-back: pages of older candles fetched on demand with GetCandles, off the receive loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from monitor.clock import Clock, SystemClock
from monitor.feed.backfill import CORRECTION_SETTLE_S, fetch_spans
from monitor.feed.cache import CandleCache, as_history, holes, known_complete, settled_end
from monitor.feed.history import LIMIT_CAP, WINDOW_SECONDS, HistoryClient, HistoryError, plan_chunks
from monitor.feed.view import HistoryState
from monitor.market import Candle, CandleBook, CandleSeries, Instrument, Interval, RangeSet, SeriesKey

log = structlog.get_logger()

START_SILENCE_S = 35 * 86_400
"""When the instrument's first candle date is unknown, consecutive empty windows reaching back
this far mean history starts at the oldest candle held. Longer than any market closure a listed
instrument lives through (MOEX shares were shut four weeks in 2022; holidays are shorter)."""


@dataclass(slots=True)
class _Track:
    """One series' scroll-back state (the mutable side of HistoryState)."""

    loading: bool = False
    error: str | None = None
    start_at: int | None = None
    """The oldest candle held when the start of history was reached (None: not reached)."""
    refilling: bool = False


class ScrollBack:
    """Fetches one page of older candles per `load_older`, and refetches spans trimmed on the newer
    side while the user looked back once the view follows the live edge again.

    A page is one GetCandles window (`plan_chunks`: the interval's window and `limit` caps; a day
    of 1m candles, 1,440 without sessions) ending at the oldest candle held. The calls go through
    the feed's HistoryClient, so they share the backfill's pacing under the unary limit, and a
    80002 waits `x-ratelimit-reset` there. Empty windows (nights, weekends, holidays) are skipped
    within the same page, so each page that is not the last brings candles.

    Candles are closed history with origin BACKFILL, like the initial history load (backfill.py
    `recent`): the series' `backfilled` ranges (the marks of an outage filled in) stay untouched.
    The page's newest candle may repeat the oldest held (the API repeats the boundary candle):
    `HistoryClient.fetch` keeps only those before it, and the book upserts by start time anyway.

    With a cache (the store), a page reads it first: the candles it holds before the oldest held
    within a range known complete go in without a call (up to LIMIT_CAP a page), and GetCandles is
    asked only for the holes of the window, each fetch saved back with the range it covered in
    full (as the backfill does), so a later run scrolls back over it without a call either.

    The start of history is the instrument's first candle date for the interval's family
    (`first_1min_candle_date` for intraday intervals, `first_1day_candle_date` for a day and
    longer), once a page reached it. When the date is unknown, empty windows in a row reaching
    back START_SILENCE_S mean the oldest candle held is the first. A start found holds while the
    series keeps that candle; once a trim drops it, scrolling back works again.
    """

    def __init__(
        self,
        *,
        book: CandleBook,
        on_candle: Callable[[SeriesKey, Candle], None],
        on_change: Callable[[], None],
        cache: CandleCache | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._book = book
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._on_candle = on_candle
        self._on_change = on_change
        self._cache = cache
        self._known: dict[SeriesKey, RangeSet] = {}
        """Ranges fetched in full by this scroll-back, per series (whatever the cache wrote yet)."""
        self._tracks: dict[SeriesKey, _Track] = {}
        self._jobs: asyncio.Queue[tuple[SeriesKey, Instrument, bool]] = asyncio.Queue()

    def _track(self, key: SeriesKey) -> _Track:
        found = self._tracks.get(key)
        if found is None:
            found = self._tracks[key] = _Track()
        return found

    def state(self, instrument: Instrument | None, interval: Interval) -> HistoryState:
        """The scroll-back of the instrument's series; cheap (a panel asks on every redraw).

        Also queues the refetch of a span trimmed on the newer side, once nobody looks back.
        """
        if instrument is None:
            return HistoryState()
        key = SeriesKey(instrument.uid, interval)
        first = instrument.first_candle(interval)
        series = self._book.find(key)
        if series is not None and series.anchor is None and series.trimmed:
            self._queue_refill(key, instrument)
        track = self._tracks.get(key)
        if track is None:
            return HistoryState(at_start=_at_start(series, None, first), first_time=first)
        return HistoryState(
            loading=track.loading,
            at_start=_at_start(series, track.start_at, first),
            error=track.error,
            first_time=first,
        )

    def _queue_refill(self, key: SeriesKey, instrument: Instrument) -> None:
        track = self._track(key)
        if not track.refilling:
            track.refilling = True
            self._jobs.put_nowait((key, instrument, True))

    def load_older(self, instrument: Instrument | None, interval: Interval) -> None:
        """Queues one page of older candles (no-op while one is in flight or at the start)."""
        if instrument is None:
            return
        key = SeriesKey(instrument.uid, interval)
        series = self._book.find(key)
        track = self._track(key)
        first = instrument.first_candle(interval)
        if track.loading or not series or _at_start(series, track.start_at, first):
            return
        track.loading, track.error = True, None
        self._jobs.put_nowait((key, instrument, False))
        self._on_change()

    async def run(self, history: HistoryClient) -> None:
        """Works through the pages one at a time (HistoryClient paces the calls)."""
        while True:
            key, instrument, refill = await self._jobs.get()
            track = self._track(key)
            try:
                if refill:
                    await self._refill(history, key)
                else:
                    await self._page(history, key, instrument.first_candle(key.interval))
            except asyncio.CancelledError:
                # The feed closed: the page goes out again when the user asks after a restart.
                track.loading = track.refilling = False
                raise
            except Exception as exc:  # HistoryError or a transport error: the user may ask again
                track.error = _reason(exc)
                log.warning("scrollback_failed", uid=key.uid, interval=key.interval.code, error=str(exc))
            track.loading = track.refilling = False
            self._on_change()

    async def _page(self, history: HistoryClient, key: SeriesKey, first: int | None) -> None:
        series = self._book.find(key)
        oldest = series.oldest if series is not None else None
        if series is None or oldest is None:
            return
        interval, track = key.interval, self._track(key)
        floor = interval.start_of(first) if first is not None else 0
        end, silence = oldest.time, 0
        while True:
            complete = known_complete(self._cache, key, self._known.get(key))
            covered = _covering(complete, end)
            if covered is not None:
                # [covered, end) is complete in the cache: its candles are the page, with no call.
                start = max(floor, covered)
                candles = self._cached(key, start, end, LIMIT_CAP[interval])
            else:
                chunks = plan_chunks(interval, max(floor, end - WINDOW_SECONDS[interval]), end)
                if not chunks:
                    break  # nothing can start before the oldest held: it is the first
                start, stop = chunks[-1]
                candles = await self._fetch_holes(history, key, start, stop, complete)
            self._merge(key, series, candles)
            if start <= floor:
                break  # the page reached the first candle date (or the epoch)
            if candles:
                log.info("scrolled_back", uid=key.uid, interval=interval.code, candles=len(candles))
                return
            silence += end - start
            if first is None and silence >= START_SILENCE_S:
                break
            end = start
        held = series.oldest
        track.start_at = held.time if held is not None else None
        log.info("history_start", uid=key.uid, interval=interval.code, start=track.start_at)

    async def _fetch_holes(
        self, history: HistoryClient, key: SeriesKey, start: int, end: int, complete: RangeSet
    ) -> list[Candle]:
        """The candles of [start, end): the cache's where a complete range covers it, fetched for
        the holes (each fetch saved with its range)."""
        missing = holes(start, end, complete)
        candles = [] if missing == [(start, end)] else self._cached(key, start, end, LIMIT_CAP[key.interval])
        for lo, hi in fetch_spans(key.interval, missing):
            candles.extend(await self._fetch(history, key, lo, hi))
        return sorted(candles, key=lambda c: c.time)

    async def _fetch(self, history: HistoryClient, key: SeriesKey, start: int, end: int) -> list[Candle]:
        """GetCandles for [start, end), saved to the cache with the settled part as complete."""
        candles = await history.fetch(key.uid, key.interval, start, end)
        if self._cache is None:
            return candles
        hi = min(end, settled_end(key.interval, self._clock.now(), CORRECTION_SETTLE_S))
        complete = (start, hi) if start < hi else None
        if complete is not None:
            self._known.setdefault(key, RangeSet()).add(*complete)
        try:
            self._cache.save(key, [c for c in candles if c.closed], complete)
        except Exception as exc:  # the book has them; only a later run fetches them again
            log.warning("cache_write_failed", uid=key.uid, interval=key.interval.code, error=str(exc))
        return candles

    def _cached(self, key: SeriesKey, start: int, end: int, limit: int) -> list[Candle]:
        """The cache's newest `limit` candles in [start, end) (none when it cannot be read)."""
        if self._cache is None:
            return []
        try:
            return as_history(self._cache.load(key, start, end, limit))
        except Exception as exc:  # a cache that fails to read holds nothing: the window is fetched
            log.warning("cache_read_failed", uid=key.uid, interval=key.interval.code, error=str(exc))
            return []

    async def _refill(self, history: HistoryClient, key: SeriesKey) -> None:
        series = self._book.find(key)
        if series is None:
            return
        for start, end in list(series.trimmed):
            if series.anchor is not None:
                return  # the user looks back again: the span would be trimmed once more
            self._merge(key, series, await self._fetch(history, key, start, end))
            series.mark_refilled(start, end)
            log.info("refilled", uid=key.uid, interval=key.interval.code, start=start, end=end)

    def _merge(self, key: SeriesKey, series: CandleSeries, candles: list[Candle]) -> None:
        for candle in series.merge_history(candles):
            self._on_candle(key, candle)


def _at_start(series: CandleSeries | None, start_at: int | None, first: int | None) -> bool:
    """Whether the oldest candle held is where the history begins."""
    oldest = series.oldest if series is not None else None
    if series is None or oldest is None:
        return False
    if first is not None and oldest.time <= series.key.interval.start_of(first):
        return True
    return start_at is not None and oldest.time <= start_at


def _covering(complete: RangeSet, end: int) -> int | None:
    """The start of the complete range holding the period just before `end`, if any."""
    for lo, hi in complete:
        if lo < end <= hi:
            return lo
    return None


def _reason(exc: Exception) -> str:
    """What a failed page says to the user."""
    if isinstance(exc, HistoryError):
        # The message names the link's failure in the user's words (refused, reset, no answer
        # within the deadline: connectivity.link_problem) or the API's own.
        return f"older candles unavailable: {exc.message or exc.status.name}"
    return f"older candles unavailable: {exc or type(exc).__name__}"

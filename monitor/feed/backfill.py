"""Candle history for the feed: the initial load, gap fills after outages, confirming closes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import structlog

from monitor.clock import Clock, wait_any
from monitor.feed.cache import CandleCache, as_history, holes, known_complete, settled_end
from monitor.feed.history import WINDOW_SECONDS, HistoryClient, plan_chunks
from monitor.feed.subscriptions import WatchedSeries
from monitor.market import Candle, CandleBook, Interval, RangeSet, SeriesKey

log = structlog.get_logger()

RETRY_FIRST_S = 5.0
RETRY_MAX_S = 60.0
# Corrections for a closed period arrive a little after it closes (late trades); an outage that
# starts right after a close may swallow them, so a gap fill starts one period early.
CORRECTION_GRACE_S = 60
# History fetched right after a period closed may still hold its preliminary values; such a fetch
# is repeated once this long after the close, when the correction (if any) has been published.
CORRECTION_SETTLE_S = 30
CONFIRM_AFTER_S = 10.0
"""Clock seconds after a period's end before GetCandles is asked whether it is complete. On a
live stream the next period's first candle confirms it for free within a second or two of the end;
what is still unconfirmed this long after is an instrument that stopped trading (the session's last
minute, an illiquid bond) or a link that lags, and the server's `is_complete` settles it."""


def fetch_spans(interval: Interval, gaps: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The holes joined wherever one request covers both: the calls are what the limit counts, not
    the candles, so refetching a few cached ones between two holes is cheaper than a second call."""
    spans: list[tuple[int, int]] = []
    for lo, hi in gaps:
        if spans:
            first, last = spans[-1]
            joined = len(plan_chunks(interval, first, hi))
            if joined <= len(plan_chunks(interval, first, last)) + len(plan_chunks(interval, lo, hi)) - 1:
                spans[-1] = (first, hi)
                continue
        spans.append((lo, hi))
    return spans


class Backfiller:
    """Loads `history_candles` closed candles per new series, fills the gaps outages leave, and
    asks the server to confirm periods that are over on the clock but that the stream has not
    closed (a period is closed only on the server's word: see CandleSeries).

    A gap is remembered as the earliest start still unfilled per series; it is only forgotten
    once a fetch covering it succeeded, and failed fetches are retried with backoff for as long
    as the series is watched, so an outage during a backfill can delay it but never lose it.

    With a cache, a series draws its newest cached candles into the book as soon as it is watched
    (before any call), its first load fetches only what the cache does not hold as complete since
    the oldest candle drawn, and a gap fill fetches only the holes: every fetch is saved back with
    the range it covered in full.

    Args:
        book: the book to upsert into.
        clock: the feed's clock.
        history_candles: closed candles loaded when a series is first confirmed.
        watched: which series are watched (jobs for unwatched series are dropped).
        on_candle: called for every candle that changed the book.
        on_change: called after each job (listeners).
        cache: candles at rest to start from and to save to (None: none).
    """

    def __init__(
        self,
        *,
        book: CandleBook,
        clock: Clock,
        history_candles: int,
        watched: WatchedSeries,
        on_candle: Callable[[SeriesKey, Candle], None],
        on_change: Callable[[], None],
        cache: CandleCache | None = None,
    ) -> None:
        self._book = book
        self._cache = cache
        self._clock = clock
        self._count = history_candles
        self._watched = watched
        self._on_candle = on_candle
        self._on_change = on_change
        self._loaded: set[SeriesKey] = set()
        """Series whose initial history is in the book."""
        self._gap: dict[SeriesKey, int] = {}
        """Earliest period start not yet backfilled, per series."""
        self._live: set[SeriesKey] = set()
        """Series whose subscription is confirmed on a stream that is up: it delivers the forming period."""
        self._running: SeriesKey | None = None
        self._after: dict[SeriesKey, int] = {}
        """Gaps that opened while their series' job was running (merged in when it ends)."""
        self._confirm: dict[SeriesKey, int] = {}
        """Series with a period over on the clock but unconfirmed: the oldest such period's start."""
        self._queued: set[SeriesKey] = set()
        self._tries: dict[SeriesKey, int] = {}
        self._jobs: asyncio.Queue[SeriesKey] = asyncio.Queue()
        self._retries: set[asyncio.Task[None]] = set()
        self._drawn: dict[SeriesKey, int] = {}
        """Series drawn from the cache: the oldest candle drawn (their first load starts there)."""
        self._looked: set[SeriesKey] = set()
        """Series whose cached candles were looked for (once per series and feed)."""
        self._known: dict[SeriesKey, RangeSet] = {}
        """Ranges this feed fetched in full, per series (whatever the cache has written yet)."""

    def series_changed(self) -> None:
        """The watched series changed: each new one draws its cached candles into the book."""
        if self._cache is None:
            return
        changed = False
        for key in self._watched.series_keys():
            if key not in self._looked:
                self._looked.add(key)
                changed = self._draw(key) or changed
        if changed:
            self._on_change()

    def _draw(self, key: SeriesKey) -> bool:
        """Puts the newest cached candles of the last GetCandles window in the book; True if any."""
        assert self._cache is not None
        # Older candles would sit apart from the history after a long break (days of 1m), and the
        # catch-up from them would cost a call per window: such a series starts cold instead.
        since = key.interval.start_of(int(self._clock.now())) - WINDOW_SECONDS[key.interval]
        try:
            candles = as_history(self._cache.load(key, since, None, self._count))
        except Exception as exc:  # a cache that fails to read is a cache with nothing in it
            log.warning("cache_read_failed", uid=key.uid, interval=key.interval.code, error=str(exc))
            return False
        if not candles:
            return False
        self._drawn[key] = candles[0].time
        self._upsert(key, candles)
        log.info("drawn_from_cache", uid=key.uid, interval=key.interval.code, candles=len(candles))
        return True

    def confirmed(self, key: SeriesKey) -> None:
        """A candle subscription was confirmed: load history or fill the outage's gap."""
        self._live.add(key)
        if key not in self._loaded or key in self._gap:
            self._enqueue(key)

    def lost(self, key: SeriesKey) -> None:
        """The stream carrying `key` ended: remember where the gap starts."""
        self._live.discard(key)
        series = self._book.find(key)
        newest = series.newest if series is not None else None
        if newest is None:
            return  # nothing held yet: the initial history load covers it
        # Refetch from the period before the newest: the newest may have ended during the outage
        # (the book holds it forming, with what arrived before the drop), and the one before may
        # still get a correction.
        start = key.interval.start_of(newest.time - CORRECTION_GRACE_S)
        gaps = self._after if key == self._running else self._gap
        gaps[key] = min(start, gaps.get(key, start))

    def _enqueue(self, key: SeriesKey) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._jobs.put_nowait(key)

    async def _retry_later(self, key: SeriesKey, delay: float) -> None:
        await self._clock.sleep(delay)
        self._enqueue(key)

    async def run(self, history: HistoryClient) -> None:
        """Works through the jobs one at a time (HistoryClient paces the calls)."""
        try:
            while True:
                key = await self._jobs.get()
                self._queued.discard(key)
                if not self._watched.watching(key):
                    self._gap.pop(key, None)
                    self._loaded.discard(key)
                    continue
                self._running = key
                try:
                    if key in self._loaded and key not in self._gap and key in self._confirm:
                        await self._confirm_work(history, key)
                    else:
                        await self._work(history, key)
                finally:
                    self._running = None
                    if key in self._after:
                        later = self._after.pop(key)
                        self._gap[key] = min(later, self._gap.get(key, later))
        finally:
            for task in self._retries:
                task.cancel()

    async def _work(self, history: HistoryClient, key: SeriesKey) -> None:
        series = self._book.series(key)
        end = key.interval.start_of(int(self._clock.now()))
        initial = key not in self._loaded
        # A first load starts at the oldest candle drawn from the cache; a gap fill at the gap.
        start = self._drawn.get(key) if initial else self._gap.get(key)
        try:
            if start is None:
                candles = await history.recent(key.uid, key.interval, self._count)
                self._apply(key, candles, (candles[0].time, end) if candles else None)
            elif end <= start and not initial:
                # Nothing closed since the gap began: the stream delivers that period itself.
                self._gap.pop(key, None)
                return
            else:
                if not initial:
                    series.mark_gap(start, end)
                candles = await self._fill(history, key, start, end)
        except Exception as exc:  # HistoryError or a transport error: retried with backoff
            self._failed(key, exc)
            return
        if initial or start is None:
            # A first load, or a loaded series asked again with no gap left (a retry after the
            # gap's fill succeeded): the recent history is in.
            self._loaded.add(key)
            series.mark_history_loaded()
        else:
            series.mark_backfilled(start, end)
            if self._gap.get(key) == start:
                self._gap.pop(key)  # a gap opened meanwhile starts elsewhere and stays queued
        settle = end + CORRECTION_SETTLE_S - self._clock.now()
        if key not in self._live or settle > 0:
            # History reaches only to the forming period; with no stream up to deliver it, the
            # gap goes on from there (and from the period before, for its correction). A period
            # that closed moments ago is fetched again once its correction would be out: a new
            # stream does not resend corrections for periods that closed before it subscribed.
            resume = key.interval.start_of(end - CORRECTION_GRACE_S)
            self._gap[key] = min(resume, self._gap.get(key, resume))
            if key in self._live:
                task = asyncio.create_task(self._retry_later(key, settle))
                self._retries.add(task)
                task.add_done_callback(self._retries.discard)
        log.info("backfilled", uid=key.uid, interval=key.interval.code, candles=len(candles), start=start)
        self._on_change()

    async def _fill(self, history: HistoryClient, key: SeriesKey, start: int, end: int) -> list[Candle]:
        """Fetches the holes of [start, end) the cache (or this feed) does not hold complete; on a
        gap fill, what the cache holds there goes into the book too (a first load drew it already).
        Returns the candles fetched."""
        complete = self._complete(key)
        missing = holes(start, end, complete)
        if missing != [(start, end)] and key in self._loaded and self._cache is not None:
            try:
                cached = as_history(self._cache.load(key, start, end, self._book.series(key).capacity))
            except Exception as exc:  # as in _draw: the holes are fetched all the same
                log.warning("cache_read_failed", uid=key.uid, interval=key.interval.code, error=str(exc))
                cached = []
            self._upsert(key, cached)
        fetched: list[Candle] = []
        for lo, hi in fetch_spans(key.interval, missing):
            candles = await history.fetch(key.uid, key.interval, lo, hi)
            self._apply(key, candles, (lo, hi))
            fetched.extend(candles)
        return fetched

    def _complete(self, key: SeriesKey) -> RangeSet:
        """The ranges known complete: the cache's and what this feed fetched in full."""
        return known_complete(self._cache, key, self._known.get(key))

    def _apply(self, key: SeriesKey, candles: list[Candle], fetched: tuple[int, int] | None) -> None:
        """A fetch of `fetched` succeeded: its candles go into the book (announced when they
        changed it) and to the cache, with the part of the range that is settled as complete."""
        self._tries.pop(key, None)
        self._upsert(key, candles)
        complete = None
        if fetched is not None:
            lo, hi = (
                fetched[0],
                min(fetched[1], settled_end(key.interval, self._clock.now(), CORRECTION_SETTLE_S)),
            )
            if lo < hi:
                complete = (lo, hi)
                self._known.setdefault(key, RangeSet()).add(lo, hi)
        if self._cache is not None and (candles or complete is not None):
            try:
                self._cache.save(key, [c for c in candles if c.closed], complete)
            except Exception as exc:  # the book has them; only the next start will fetch them again
                log.warning("cache_write_failed", uid=key.uid, interval=key.interval.code, error=str(exc))

    def _upsert(self, key: SeriesKey, candles: Sequence[Candle]) -> None:
        for candle in candles:
            if self._book.upsert(key, candle):
                self._on_candle(key, candle)

    def _failed(self, key: SeriesKey, exc: Exception) -> None:
        """Schedules the series' job again with backoff after a failed fetch."""
        tries = self._tries.get(key, 0)
        self._tries[key] = tries + 1
        delay = min(RETRY_MAX_S, RETRY_FIRST_S * 2**tries)
        log.warning(
            "backfill_failed", uid=key.uid, interval=key.interval.code, error=str(exc), retry_in=delay
        )
        task = asyncio.create_task(self._retry_later(key, delay))
        self._retries.add(task)
        task.add_done_callback(self._retries.discard)

    async def _confirm_work(self, history: HistoryClient, key: SeriesKey) -> None:
        """Fetches the unconfirmed periods of `key` so that the server's answer closes them."""
        start = self._confirm.pop(key)
        series = self._book.find(key)
        end = key.interval.start_of(int(self._clock.now()))
        if series is None or series.unconfirmed_before(end) is None:
            return  # the stream's next period confirmed it meanwhile
        try:
            candles = await history.fetch(key.uid, key.interval, start, end)
        except Exception as exc:  # as in _work: retried with backoff
            self._confirm[key] = min(start, self._confirm.get(key, start))
            self._failed(key, exc)
            return
        self._apply(key, candles, (start, end))
        log.info("confirmed_by_history", uid=key.uid, interval=key.interval.code, start=start)
        self._on_change()

    async def confirm_by_history(self) -> None:
        """Wakes CONFIRM_AFTER_S after each period end and queues the periods still unconfirmed."""
        while True:
            event = self._watched.changed.next()
            intervals = self._watched.intervals()
            if not intervals:
                await event.wait()
                continue
            since = int(self._clock.now() - CONFIRM_AFTER_S)
            due = min(iv.next_start(iv.start_of(since)) for iv in intervals) + CONFIRM_AFTER_S
            await wait_any(self._clock, event, due - self._clock.now() + 0.001)
            self.queue_unconfirmed()

    def queue_unconfirmed(self) -> None:
        """Queues a confirmation for every live series with a period over for CONFIRM_AFTER_S that
        the stream has not closed. A series with no stream up, or with a gap to fill, is left to
        the gap fill, which covers the same periods once a stream is back."""
        since = int(self._clock.now() - CONFIRM_AFTER_S)
        for key in self._watched.series_keys():
            if key not in self._live or key in self._gap or key not in self._loaded:
                continue
            series = self._book.find(key)
            start = series.unconfirmed_before(key.interval.start_of(since)) if series is not None else None
            if start is not None:
                self._confirm[key] = min(start, self._confirm.get(key, start))
                self._enqueue(key)

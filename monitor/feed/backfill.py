"""Candle history for the feed: the initial load, gap fills after outages, closing by time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import structlog

from monitor.clock import Clock
from monitor.feed.history import HistoryClient
from monitor.feed.session import wait_any
from monitor.market import Candle, CandleBook, SeriesKey

log = structlog.get_logger()

RETRY_S = 5.0
RETRIES = 3
_Job = tuple[SeriesKey, int | None, int]  # (series, gap start or None for the initial history, try)


class Backfiller:
    """Loads `history_candles` closed candles per new series and fills the gaps outages leave.

    Args:
        book: the book to upsert into.
        clock: the feed's clock.
        history_candles: closed candles loaded when a series is first confirmed.
        watched: the live map of watched series (jobs for unwatched series are dropped).
        on_candle: called for every candle that changed the book.
        on_change: called after each job (listeners).
    """

    def __init__(
        self,
        *,
        book: CandleBook,
        clock: Clock,
        history_candles: int,
        watched: Callable[[], Mapping[SeriesKey, object]],
        on_candle: Callable[[SeriesKey, Candle], None],
        on_change: Callable[[], None],
    ) -> None:
        self._book = book
        self._clock = clock
        self._count = history_candles
        self._watched = watched
        self._on_candle = on_candle
        self._on_change = on_change
        self._loaded: set[SeriesKey] = set()
        self._resume: dict[SeriesKey, int] = {}
        self._jobs: asyncio.Queue[_Job] = asyncio.Queue()
        self.changed = asyncio.Event()
        """Set (and replaced) by the feed when the watched set changes."""

    def confirmed(self, key: SeriesKey) -> None:
        """A candle subscription was confirmed: load history or fill the outage's gap."""
        if key not in self._loaded:
            self._loaded.add(key)
            self._resume.pop(key, None)
            self._jobs.put_nowait((key, None, 0))
        elif key in self._resume:
            self._jobs.put_nowait((key, self._resume.pop(key), 0))

    def lost(self, key: SeriesKey) -> None:
        """The stream carrying `key` ended: remember where the gap starts."""
        series = self._book.find(key)
        newest = series.newest if series is not None else None
        if newest is None:
            self._loaded.discard(key)  # nothing held yet: load the initial history again
            return
        # Refetch from the newest candle's own period: it may have closed during the outage, and
        # the timer may have closed it with partial data.
        self._resume[key] = min(newest.time, self._resume.get(key, newest.time))

    async def run(self, history: HistoryClient) -> None:
        """Works through the jobs one at a time (HistoryClient paces the calls)."""
        while True:
            key, start, tries = await self._jobs.get()
            if key not in self._watched():
                continue
            series = self._book.series(key)
            end = key.interval.start_of(int(self._clock.now()))
            try:
                if start is None:
                    candles = await history.recent(key.uid, key.interval, self._count)
                else:
                    if end <= start:
                        continue
                    series.mark_gap(start, end)
                    candles = await history.fetch(key.uid, key.interval, start, end)
            except Exception as exc:  # HistoryError or a transport error: retry a few times
                log.warning("backfill_failed", uid=key.uid, interval=key.interval.code, error=str(exc))
                if tries + 1 < RETRIES:
                    await self._clock.sleep(RETRY_S)
                    self._jobs.put_nowait((key, start, tries + 1))
                continue
            for candle in candles:
                if self._book.upsert(key, candle):
                    self._on_candle(key, candle)
            if start is not None:
                series.mark_backfilled(start, end)
            log.info("backfilled", uid=key.uid, interval=key.interval.code, candles=len(candles), start=start)
            self._on_change()

    async def close_by_time(self, changed: Callable[[], asyncio.Event]) -> None:
        """Closes forming candles when their period ends (the stream never flags closed ones)."""
        while True:
            event = changed()
            now = int(self._clock.now())
            intervals = {key.interval for key in self._watched()}
            if not intervals:
                await event.wait()
                continue
            boundary = min(iv.next_start(iv.start_of(now)) for iv in intervals)
            await wait_any(self._clock, event, boundary - self._clock.now() + 0.001)
            self.close_forming()

    def close_forming(self) -> None:
        """Closes every forming candle whose period is over."""
        now = int(self._clock.now())
        changed = False
        for key in list(self._watched()):
            series = self._book.find(key)
            if series is not None and series.close_through(key.interval.start_of(now)):
                changed = True
                newest = series.last_closed_time()
                candle = series.get(newest) if newest is not None else None
                if candle is not None:
                    self._on_candle(key, candle)
        if changed:
            self._book.version += 1
            self._on_change()

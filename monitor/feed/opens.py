"""Session opens: today's D1 open per watched instrument, for the watchlist's change column."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from monitor.clock import Clock, wait_any
from monitor.feed.history import HistoryClient
from monitor.feed.subscriptions import WatchedSeries
from monitor.market import CandleBook, Interval

log = structlog.get_logger()

RETRY_S = 900.0
"""Clock seconds before asking again when today has no trade yet (nights, weekends) or a call failed."""
ROLLOVER_GRACE_S = 1.0
"""After midnight UTC, wait this long so the server's clock has crossed it too."""


class SessionOpens:
    """Keeps `book.quotes[uid].session_open` at the open of the current UTC day's D1 candle.

    Fetched once per instrument and day (GetCandles, paced with the backfill), again after each
    UTC midnight. Until the new day's first trade the previous open stays: the watchlist then
    shows the last session's change rather than nothing.

    Args:
        book: where the opens go.
        clock: the feed's clock (decides which day it is).
        watched: the instruments to keep opens for (the resolved, watched ones).
        on_change: called after an open changed (listeners).
    """

    def __init__(
        self, *, book: CandleBook, clock: Clock, watched: WatchedSeries, on_change: Callable[[], None]
    ) -> None:
        self._book = book
        self._clock = clock
        self._watched = watched
        self._on_change = on_change
        self._fetched: dict[str, int] = {}  # uid -> the day start whose open the quote holds

    async def run(self, history: HistoryClient) -> None:
        """Fetches what is missing for today, then sleeps until midnight, a change or a retry."""
        while True:
            changed = self._watched.changed.next()
            day = Interval.D1.start_of(int(self._clock.now()))
            missing = await self._fetch(history, day)
            wait = Interval.D1.next_start(day) + ROLLOVER_GRACE_S - self._clock.now()
            await wait_any(self._clock, changed, min(wait, RETRY_S) if missing else wait)

    async def _fetch(self, history: HistoryClient, day: int) -> bool:
        """Fetches today's open for each instrument lacking it; True if some are still unknown."""
        missing = False
        for uid in self._watched.uids():
            if self._fetched.get(uid) == day:
                continue
            try:
                value = await history.day_open(uid, day)
            except Exception as exc:  # HistoryError or a transport error: the next round retries
                log.warning("session_open_failed", uid=uid, error=str(exc))
                missing = True
                continue
            if value is None:
                missing = True  # no trade today yet
                continue
            self._fetched[uid] = day
            self._book.set_session_open(uid, value)
            self._on_change()
        return missing

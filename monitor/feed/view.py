"""The read model: what a panel or a watchlist row shows for one watch key, derived once."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.feed.health import Health, WatchState
from monitor.market import CandleBook, CandleSeries, Instrument, Quote, SeriesKey, TradingPhase, WatchKey


@dataclass(frozen=True, slots=True)
class HistoryState:
    """Where the scroll-back into older candles of one series stands (`FeedLike.load_older`)."""

    loading: bool = False
    """A page of older candles is in flight."""
    at_start: bool = False
    """The oldest candle held is the instrument's first: there is nothing older to load."""
    error: str | None = None
    """Why the last page failed, in words a user understands (cleared by the next request)."""
    first_time: int | None = None
    """Epoch seconds of the instrument's first candle of this interval family, if known."""


NO_HISTORY = HistoryState()


@dataclass(frozen=True, slots=True)
class WatchView:
    """What a panel or a watchlist row shows for one watch key (the feed's facts, derived once)."""

    key: WatchKey
    state: WatchState
    """RESOLVING / PENDING / ACTIVE / RETRYING / FAILED."""
    reason: str | None = None
    """Why the key is FAILED or RETRYING, in words a user understands."""
    instrument: Instrument | None = None
    series: CandleSeries | None = None
    """The book's series for the resolved uid and the key's interval, once it exists."""
    quote: Quote | None = None
    """Last price and session open of the instrument."""
    phase: TradingPhase | None = None
    """Trading phase of the instrument (from the info subscription)."""
    last_data_at: float | None = None
    """Clock time of the newest streamed candle of the series."""
    lag: float | None = None
    """Wall seconds the series' stream is behind, while that stream is LAGGING (None otherwise)."""
    history: HistoryState = NO_HISTORY
    """The scroll-back into older candles."""

    def age(self, now: float) -> float | None:
        """Seconds since the newest streamed candle, when one has arrived."""
        return None if self.last_data_at is None else max(0.0, now - self.last_data_at)


def watch_view(
    key: WatchKey,
    *,
    health: Health,
    book: CandleBook,
    instrument: Instrument | None,
    stream: int | None = None,
    history: HistoryState = NO_HISTORY,
) -> WatchView:
    """The view of `key` from the feed's owners (an unknown key is RESOLVING with nothing else);
    `stream` is the slot its candles come on (whose lag is the key's), `history` its scroll-back."""
    entry = health.watch.get(key)
    uid = (entry.uid if entry is not None else None) or (instrument.uid if instrument is not None else None)
    if uid is None:
        state = entry.state if entry is not None else WatchState.RESOLVING
        return WatchView(key, state, entry.reason if entry is not None else None, instrument)
    series = book.find(SeriesKey(uid, key.interval))
    return WatchView(
        key=key,
        state=entry.state if entry is not None else WatchState.RESOLVING,
        reason=entry.reason if entry is not None else None,
        instrument=instrument,
        series=series,
        quote=book.quotes.get(uid),
        phase=health.trading.get(uid),
        last_data_at=series.received_at if series is not None else None,
        lag=health.lag.get(stream) if stream is not None else None,
        history=history,
    )

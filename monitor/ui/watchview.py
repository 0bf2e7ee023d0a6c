"""Stand-in for monitor.feed.WatchView until the feed branch lands (deleted at the merge)."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.feed.api import FeedLike
from monitor.feed.health import WatchState
from monitor.market import CandleSeries, Instrument, SeriesKey, TradingPhase, WatchKey
from monitor.market.book import Quote


@dataclass(frozen=True, slots=True)
class WatchView:
    """What a panel or a watchlist row shows for one watch key (the feed's facts, derived once)."""

    key: WatchKey
    state: WatchState
    reason: str | None
    instrument: Instrument | None
    series: CandleSeries | None
    quote: Quote | None
    phase: TradingPhase | None
    last_data_at: float | None

    def age(self, now: float) -> float | None:
        return None if self.last_data_at is None else max(0.0, now - self.last_data_at)


def legacy_view(feed: FeedLike, key: WatchKey) -> WatchView:
    """The view as the UI derived it before the feed had `view()`."""
    health, book = feed.health, feed.book
    instrument = feed.instrument(key.id)
    watch = health.watch.get(key)
    uid = (watch.uid if watch else None) or (instrument.uid if instrument else None)
    return WatchView(
        key=key,
        state=watch.state if watch else WatchState.RESOLVING,
        reason=watch.reason if watch else None,
        instrument=instrument,
        series=book.find(SeriesKey(uid, key.interval)) if uid else None,
        quote=book.quotes.get(uid) if uid else None,
        phase=health.trading.get(watch.uid) if watch and watch.uid else None,
        last_data_at=watch.last_data_at if watch else None,
    )

"""The feed's public surface, as a Protocol the UI codes against (the real feed or the fake)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from monitor.feed.health import Health, HealthEvent
from monitor.feed.view import WatchView
from monitor.market import Candle, CandleBook, Instrument, SeriesKey, WatchKey

Listener = Callable[[], None]
"""Called (synchronously, cheaply, on the event loop) after the book or health changed."""
CandleListener = Callable[[SeriesKey, Candle], None]
"""Called with every candle that changed the book (streamed or from history)."""
EventListener = Callable[[HealthEvent], None]
"""Called with every connection transition."""
PriceListener = Callable[[str, float, float], None]
"""Called with every streamed last price (uid, price, time); an older one may follow a newer one."""


class FeedLike(Protocol):
    """What the UI and `monitor stream` need from a feed."""

    book: CandleBook
    """Read-only for users: the feed fills it."""
    health: Health
    """Read-only for users: connection-level state and counters."""

    def watch(self, keys: Sequence[WatchKey]) -> None:
        """Sets the desired candle series; the feed subscribes/unsubscribes only the difference."""
        ...

    def view(self, key: WatchKey) -> WatchView:
        """What a panel or row shows for `key` (any key: an unknown one is RESOLVING)."""
        ...

    def instrument(self, watch_id: str) -> Instrument | None:
        """The resolved instrument for a watchlist id, when resolution succeeded."""
        ...

    def load_older(self, key: WatchKey) -> None:
        """Schedules one page of candles older than the oldest the series holds (GetCandles).

        Never blocks; a no-op while a page of the series is in flight, once its start of history
        is reached, and for a key with no candles yet. `view(key).history` tells how it stands.
        """
        ...

    async def run(self) -> None:
        """Connects and keeps the data flowing until `close()`; after `close()` it starts again."""
        ...

    async def close(self) -> None:
        """Stops every stream and closes the channel (idempotent)."""
        ...

    def reconnect_now(self, token: str | None = None) -> None:
        """Drops the wait of a pending reconnect (or the current stream) and connects at once;
        with `token` (the user changed it), every call from now on sends that one instead."""
        ...

    async def search(self, query: str) -> list[Instrument]:
        """Instruments whose ticker, name, FIGI, ISIN or uid contain `query` (FindInstrument)."""
        ...

    def add_listener(self, listener: Listener) -> None:
        """Registers a callback run after each batch of changes."""
        ...

    def add_candle_listener(self, cb: CandleListener) -> None:
        """Registers `cb(series, candle)`, called for every candle that changed the book."""
        ...

    def add_event_listener(self, cb: EventListener) -> None:
        """Registers `cb(event)`, called on every connection transition."""
        ...

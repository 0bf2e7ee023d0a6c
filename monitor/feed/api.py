"""The feed's public surface, as a Protocol the UI codes against (real feed or a fake)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from monitor.feed.health import Health
from monitor.market import CandleBook, Instrument, WatchKey

Listener = Callable[[], None]
"""Called (synchronously, cheaply, on the event loop) after the book or health changed."""


class FeedLike(Protocol):
    """What the UI and `monitor stream` need from a feed."""

    book: CandleBook
    health: Health

    def watch(self, keys: Sequence[WatchKey]) -> None:
        """Sets the desired candle series; the feed subscribes/unsubscribes only the difference."""
        ...

    def instrument(self, watch_id: str) -> Instrument | None:
        """The resolved instrument for a watchlist id, when resolution succeeded."""
        ...

    async def run(self) -> None:
        """Connects and keeps the data flowing until `close()`; failures show in `health`."""
        ...

    async def close(self) -> None:
        """Stops every stream and closes the channel (idempotent)."""
        ...

    def reconnect_now(self) -> None:
        """Drops the wait of a pending reconnect (or the current stream) and connects at once."""
        ...

    async def search(self, query: str) -> list[Instrument]:
        """Instruments whose ticker, name, FIGI, ISIN or uid contain `query` (FindInstrument)."""
        ...

    def add_listener(self, listener: Listener) -> None:
        """Registers a callback run after each batch of changes."""
        ...

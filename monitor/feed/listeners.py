"""Listener lists of the feed: called synchronously on the loop, and never allowed to break it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from monitor.feed.health import HealthEvent
from monitor.market import Candle, SeriesKey

log = structlog.get_logger()

CandleListener = Callable[[SeriesKey, Candle], None]
EventListener = Callable[[HealthEvent], None]


class Listeners:
    """The three kinds of callbacks a feed announces changes to."""

    def __init__(self) -> None:
        self.changed: list[Callable[[], None]] = []
        self.candles: list[CandleListener] = []
        self.events: list[EventListener] = []

    def emit(self) -> None:
        """The book or the health changed."""
        for cb in self.changed:
            _safe(cb)

    def emit_candle(self, key: SeriesKey, candle: Candle) -> None:
        """A candle changed the book."""
        for cb in self.candles:
            _safe(cb, key, candle)

    def emit_event(self, event: HealthEvent) -> None:
        """A connection transition happened."""
        for cb in self.events:
            _safe(cb, event)
        self.emit()


def _safe(cb: Callable[..., None], *args: Any) -> None:
    # A listener's bug must never stop the receive loop.
    try:
        cb(*args)
    except Exception:
        log.exception("listener_failed", listener=repr(cb))

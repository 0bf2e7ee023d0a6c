"""The feed's listeners (synchronous, never allowed to break the loop) and its transition announcer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from monitor.clock import Clock
from monitor.feed.api import CandleListener, EventListener, Listener, PriceListener
from monitor.feed.health import CLOCK_SKEW_WARN_S, ConnectionState, Health, HealthEvent
from monitor.market import Candle, SeriesKey

log = structlog.get_logger()


class Listeners:
    """The three kinds of callbacks a feed announces changes to."""

    def __init__(self) -> None:
        self.changed: list[Listener] = []
        self.candles: list[CandleListener] = []
        self.events: list[EventListener] = []
        self.prices: list[PriceListener] = []

    # emit and emit_candle run per received message: the try is inline rather than through _safe
    # (one Python call less each), with the same guarantee.
    def emit(self) -> None:
        """The book or the health changed."""
        for cb in self.changed:
            try:
                cb()
            except Exception:
                log.exception("listener_failed", listener=repr(cb))

    def emit_candle(self, key: SeriesKey, candle: Candle) -> None:
        """A candle changed the book."""
        for cb in self.candles:
            try:
                cb(key, candle)
            except Exception:
                log.exception("listener_failed", listener=repr(cb))

    def emit_stream_candle(self, key: SeriesKey, candle: Candle) -> None:
        """A streamed candle changed the book: the candle listeners, then the change listeners, in
        one call (the receive loop makes it per message; emit_candle + emit would be two)."""
        for cb in self.candles:
            try:
                cb(key, candle)
            except Exception:
                log.exception("listener_failed", listener=repr(cb))
        for change in self.changed:
            try:
                change()
            except Exception:
                log.exception("listener_failed", listener=repr(change))

    def emit_price(self, uid: str, price: float, time: float) -> None:
        """A last price arrived (the alert engine's price rules read these)."""
        for cb in self.prices:
            _safe(cb, uid, price, time)

    def emit_event(self, event: HealthEvent) -> None:
        """A connection transition happened."""
        for cb in self.events:
            _safe(cb, event)
        self.emit()


class Announcer:
    """Moves the connection state in Health and announces each transition (log, listeners)."""

    def __init__(self, *, health: Health, clock: Clock, listeners: Listeners) -> None:
        self._health = health
        self._clock = clock
        self._listeners = listeners

    def transition(
        self,
        state: ConnectionState,
        reason: str = "",
        code: str | None = None,
        attempt: int = 0,
        next_retry_at: float | None = None,
    ) -> None:
        """Moves to `state` (nothing happens when nothing changed)."""
        event = self._health.transition(state, self._clock.now(), reason, code, attempt, next_retry_at)
        if event is None:
            return
        log.info("feed_state", state=state.value, reason=reason, code=code, attempt=attempt)
        self._listeners.emit_event(event)

    def timing(self, stream: int, skew: float | None, lag: float | None) -> None:
        """A stream's newest skew and lag estimates (feed/lag.py): the skew goes to Health (warned
        about once), a lag crossing its bound is announced like a transition."""
        health = self._health
        if skew is not None:
            warned = health.clock_skew is not None and abs(health.clock_skew) >= CLOCK_SKEW_WARN_S
            health.note_server_time(skew)
            if abs(skew) >= CLOCK_SKEW_WARN_S and not warned:
                log.warning("clock_skew", seconds=round(skew, 3), hint="synchronise the system clock (NTP)")
        event = health.note_lag(stream, lag, self._clock.now())
        if event is not None:
            log.info("feed_lag", stream=stream, lagging=event.lagging, lag=round(event.lag, 1))
            self._listeners.emit_event(event)


class ListenerHost:
    """The feed's listener registration (a mixin: the host sets `_listen`)."""

    _listen: Listeners

    def add_listener(self, listener: Listener) -> None:
        """Registers a callback run after each batch of changes."""
        self._listen.changed.append(listener)

    def add_candle_listener(self, cb: CandleListener) -> None:
        """Registers `cb(series, candle)`, called for every candle that changed the book."""
        self._listen.candles.append(cb)

    def add_event_listener(self, cb: EventListener) -> None:
        """Registers `cb(event)`, called on every connection transition."""
        self._listen.events.append(cb)

    def add_price_listener(self, cb: PriceListener) -> None:
        """Registers `cb(uid, price, time)`, called for every last price received."""
        self._listen.prices.append(cb)


def _safe(cb: Callable[..., None], *args: Any) -> None:
    # A listener's bug must never stop the receive loop.
    try:
        cb(*args)
    except Exception:
        log.exception("listener_failed", listener=repr(cb))

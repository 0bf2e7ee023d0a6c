"""The receive handler: applies stream messages to the book and health, skipping hostile ones."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from monitor.feed.convert import checked_candle, interval_of, last_price, trading_status
from monitor.feed.health import Health, WatchKey
from monitor.feed.listeners import CandleListener
from monitor.feed.registry import Registry, SubKey, SubKind
from monitor.market import CandleBook, SeriesKey, phase_of
from monitor.pb import marketdata_pb2 as md

log = structlog.get_logger()


class Receiver:
    """Turns each MarketDataResponse into book and health updates (runs on the receive loop).

    A message that is malformed or makes no sense (unknown payload, a candle with no time, mixed
    signs, high below low, a far-off time, a series nobody subscribed) is skipped and counted in
    `health.bad_messages`; each kind of problem is logged once, so a hostile server cannot flood
    the log.

    Args:
        book: the CandleBook the candles and prices go to.
        health: counters and per-watch state.
        registry: tells a late candle of a series being unsubscribed from an unsolicited one.
        emit: called after every message (listeners).
        emit_candle: called for every candle that changed the book.
    """

    def __init__(
        self,
        *,
        book: CandleBook,
        health: Health,
        registry: Registry,
        emit: Callable[[], None],
        emit_candle: CandleListener,
    ) -> None:
        self._book = book
        self._health = health
        self._registry = registry
        self._emit = emit
        self._emit_candle = emit_candle
        self.series: dict[SeriesKey, set[WatchKey]] = {}
        """The watched series (replaced by the feed whenever the watch list changes)."""
        self._logged: set[str] = set()

    def on_data(self, response: md.MarketDataResponse, now: float) -> None:
        """Applies one message; never raises for a bad one."""
        health = self._health
        health.note_message(now)
        payload = response.WhichOneof("payload")
        if payload == "candle":
            self._candle(response.candle, now)
        elif payload == "last_price":
            uid, price, at = last_price(response.last_price)
            self._book.set_price(uid, price, at)
        elif payload == "trading_status":
            uid, status = trading_status(response.trading_status)
            health.trading[uid] = phase_of(status)
            health.version += 1
        elif payload == "ping":
            health.last_ping_at = now
        elif payload is None:
            # A oneof member newer than our proto (kept as an unknown field), or an empty message.
            self.bad("unknown message kind")
        self._emit()

    def _candle(self, msg: md.Candle, now: float) -> None:
        interval = interval_of(msg.interval)
        if interval is None:
            self.bad("candle with unknown interval", str(msg.interval))
            return
        key = SeriesKey(msg.instrument_uid, interval)
        watchers = self.series.get(key)
        if watchers is None:
            # Candles sent before an unsubscribe took effect are expected; anything else is not.
            if not self._registry.holds(SubKey(SubKind.CANDLES, key.uid, interval)):
                self.bad("candle for an unsubscribed series", f"{key.uid[:64]} {interval.code}")
            return
        candle = checked_candle(msg, interval, now)
        if isinstance(candle, str):
            self.bad(candle, f"{key.uid} {interval.code}")
            return
        if self._book.upsert(key, candle):
            watch = self._health.watch
            for wk in watchers:
                entry = watch.get(wk)
                if entry is not None:
                    entry.last_data_at = now
            self._emit_candle(key, candle)

    def bad(self, reason: str, detail: str = "") -> None:
        """Counts a skipped message; logs the first one of each kind of problem."""
        health = self._health
        health.bad_messages += 1
        health.last_bad_reason = reason
        health.version += 1
        kind = reason.partition(":")[0]
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning("bad_message_skipped", kind=kind, reason=reason, detail=detail[:200])

"""The receive handler: applies stream messages to the book and health, skipping hostile ones."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from monitor.feed.api import CandleListener, PriceListener
from monitor.feed.convert import checked_candle, checked_last_price, checked_trading_status, interval_of
from monitor.feed.health import Health
from monitor.feed.registry import SubKey, SubKind
from monitor.feed.subscriptions import Subscriptions
from monitor.market import CandleBook, CandleSeries, Interval, SeriesKey, phase_of
from monitor.pb import marketdata_pb2 as md

log = structlog.get_logger()


class _Route:
    """What the receive loop needs for one watched series, looked up once per series rather than
    once per candle (a SeriesKey hash runs Python code: dataclass and Enum __hash__)."""

    __slots__ = ("close", "interval", "key", "last", "upsert")

    def __init__(self, key: SeriesKey, interval: Interval, series: CandleSeries, last: int = 0) -> None:
        self.key = key
        self.interval = interval
        self.upsert = series.upsert
        """The series' upsert, bound once (the receive loop calls it per message)."""
        self.close = series.close
        self.last = last
        """Start of the newest period this stream has delivered for the series since its
        subscription was confirmed (0: none yet). The stream is ordered, so once it sends a later
        period the server is done with this one: that, not our clock, is what closes a candle."""


class Receiver:
    """Turns each MarketDataResponse into book and health updates (runs on the receive loop).

    A message that is malformed or makes no sense (unknown payload, a candle with no time, mixed
    signs, high below low, a far-off time, a series nobody subscribed) is skipped and counted in
    `health.bad_messages`; each kind of problem is logged once, so a hostile server cannot flood
    the log.

    Args:
        book: the CandleBook the candles and prices go to.
        health: counters and per-watch state.
        subscriptions: which series are watched, and which subscriptions the server may still
            send (a late candle of a series being unsubscribed is no sign of a hostile server).
        emit: called after every message (listeners), except...
        emit_candle: ...a candle that changed the book, which is announced by this call alone
            (so it is expected to tell the change listeners too).
        emit_price: called with every last price of a watched instrument (the alert engine).
    """

    def __init__(
        self,
        *,
        book: CandleBook,
        health: Health,
        subscriptions: Subscriptions,
        emit: Callable[[], None],
        emit_candle: CandleListener,
        emit_price: PriceListener | None = None,
    ) -> None:
        self._book = book
        self._health = health
        self._subscriptions = subscriptions
        self._registry = subscriptions.registry
        self._emit = emit
        self._emit_candle = emit_candle
        self._emit_price = emit_price
        self._routes: dict[tuple[str, int], _Route] = {}
        self._carried: dict[tuple[str, int], int] = {}
        """`_Route.last` of still-watched series across a rebuild of the routes."""
        self._logged: set[str] = set()
        subscriptions.on_series_change(self._forget_routes)

    def _forget_routes(self) -> None:
        # Rebuilt lazily: a series no longer watched must become unsolicited. What its stream
        # delivered is carried over for the series still watched (an unwatched one is not
        # delivered any more, so its next candle after a re-watch must not close anything).
        watching = self._subscriptions.watching
        self._carried = {
            pair: route.last for pair, route in self._routes.items() if route.last and watching(route.key)
        }
        self._routes = {}

    def restart(self, key: SeriesKey) -> None:
        """The stream delivering `key` ended, or its subscription was confirmed afresh: what
        arrives next is not continuous with what came before, so it closes nothing."""
        pair = (key.uid, key.interval.value)
        self._carried.pop(pair, None)
        route = self._routes.get(pair)
        if route is not None:
            route.last = 0

    def on_message(self, response: md.MarketDataResponse, payload: str | None, now: float) -> None:
        """Applies a message other than a candle or a subscription answer (`payload` is its kind);
        never raises for a bad one."""
        if payload == "last_price":
            self._last_price(response.last_price, now)
        elif payload == "trading_status":
            self._trading_status(response.trading_status)
        elif payload is None:
            # A oneof member newer than our proto (kept as an unknown field), or an empty message.
            self.bad("unknown message kind")
        self._emit()

    def on_candle(self, msg: md.Candle, now: float) -> None:
        """Applies one stream candle: the hot path. Every lookup here is per series and cached in a
        _Route; the per-message work is reading the message once, checking it, and one upsert.

        Closed means final: a candle of a period before the newest one this stream delivered is
        closed (a server correction), and the first candle of a later period closes the previous
        period's candle. Nothing else on the stream closes one (the backfill confirms the rest).
        """
        uid, number = msg.instrument_uid, msg.interval
        route = self._routes.get((uid, number))
        if route is None:
            route = self._route(uid, number)
        if route is not None:
            candle = checked_candle(msg, route.last, now)
            if isinstance(candle, str):
                self.bad(candle, f"{uid} {route.interval.code}")
            else:
                time = candle[0]
                if time > route.last:
                    previous, route.last = route.last, time
                    if previous:
                        closed = route.close(previous)
                        if closed is not None:
                            self._emit_candle(route.key, closed)
                if route.upsert(candle, now):
                    self._emit_candle(route.key, candle)
                    return
        self._emit()

    def _last_price(self, msg: md.LastPrice, now: float) -> None:
        checked = checked_last_price(msg, now)
        if isinstance(checked, str):
            self.bad(checked, msg.instrument_uid[:64])
            return
        uid, price, at = checked
        # Only instruments the feed asked for: an unsolicited uid would grow the quotes for ever.
        if self._registry.holds(SubKey(SubKind.LAST_PRICE, uid)):
            self._book.set_price(uid, price, at)
            if self._emit_price is not None:
                self._emit_price(uid, price, at)
        else:
            self.bad("last price for an unsubscribed instrument", uid[:64])

    def _trading_status(self, msg: md.TradingStatus) -> None:
        checked = checked_trading_status(msg)
        if isinstance(checked, str):
            self.bad(checked, msg.instrument_uid[:64])
            return
        uid, status = checked
        if self._registry.holds(SubKey(SubKind.INFO, uid)):
            self._health.set_phase(uid, phase_of(status))
        else:
            self.bad("trading status for an unsubscribed instrument", uid[:64])

    def _route(self, uid: str, number: int) -> _Route | None:
        """The route of a watched series (cached), or None after counting an unwanted candle."""
        interval = interval_of(number)
        if interval is None:
            self.bad("candle with unknown interval", str(number))
            return None
        key = SeriesKey(uid, interval)
        if not self._subscriptions.watching(key):
            # Candles sent before an unsubscribe took effect are expected; anything else is not.
            if not self._registry.holds(SubKey(SubKind.CANDLES, key.uid, interval)):
                self.bad("candle for an unsubscribed series", f"{key.uid[:64]} {interval.code}")
            return None
        last = self._carried.pop((uid, number), 0)
        route = self._routes[(uid, number)] = _Route(key, interval, self._book.series(key), last)
        return route

    def bad(self, reason: str, detail: str = "") -> None:
        """Counts a skipped message; logs the first one of each kind of problem."""
        self._health.note_bad(reason)
        kind = reason.partition(":")[0]
        if kind not in self._logged:
            self._logged.add(kind)
            log.warning("bad_message_skipped", kind=kind, reason=reason, detail=detail[:200])

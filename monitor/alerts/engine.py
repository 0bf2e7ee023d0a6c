"""`AlertEngine`: evaluates a watchlist's alert rules on the feed's prices and candles, exactly once."""

from __future__ import annotations

import time as _time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from monitor.alerts.evaluate import Span, in_gap, observe, volume_fires, volume_threshold
from monitor.alerts.events import AlertFired
from monitor.alerts.hold import Hold
from monitor.alerts.rules import AlertRule
from monitor.alerts.state import AlertState, RuleState
from monitor.feed import ConnectionState, FeedLike, HealthEvent
from monitor.market import Candle, CandleSeries, Origin, SeriesKey, WatchKey
from monitor.market.indicators import IndicatorBook

log = structlog.get_logger()

Indicator = Callable[[CandleSeries, str, int, int], float | None]
"""`indicator(series, kind, n, candle_time)`: the SMA/EMA value at a candle (None: not enough data)."""
AlertListener = Callable[[AlertFired], None]
HYSTERESIS_STEPS = 10
"""Default hysteresis of a `rearm` rule, in price steps of its instrument."""
RECENT = 500
"""Fires kept in `AlertEngine.recent`."""
HOLD_MAX_S = 60.0
"""Wall seconds after a reconnect that live values wait for the outage's backfill at most."""
SAVE_EVERY_S = 30.0
"""Wall seconds between saves of what changed without a fire (watermarks, re-arming)."""
_MAINTAIN_EVERY = 64
"""Change batches between looks at unresolved instruments and the save clock (the change listener
runs per message; a hold, while one waits, is looked at on every batch)."""
_STREAM = Origin.STREAM  # hoisted: an Enum member lookup costs more than the candle listener's test


@dataclass(slots=True)
class RuleStatus:
    """A rule and where it stands, for the UI's alert list."""

    rule: AlertRule
    armed: bool
    fired: int
    last: AlertFired | None
    """The latest fire (also from before a restart: then `price_or_candle` is just its value)."""
    resolved: bool
    """Whether the rule's instrument is known to the feed (an unknown one never fires)."""


@dataclass(slots=True)
class _Tracked:
    rule: AlertRule
    state: RuleState
    key: SeriesKey | None = None
    hysteresis: float = 0.0


class AlertEngine:
    """Keeps every rule's state, fed by a feed's listeners (`attach`) or directly (`on_*`).

    Price and change rules read last prices live, and the high/low of candles backfilled after an
    outage; close and volume rules read closed candles only (closed means final). A rule whose
    state is new takes its first observation as a baseline and never fires on it. Listeners get
    every `AlertFired`; the state is saved at once on every fire.
    """

    def __init__(
        self,
        rules: Sequence[AlertRule],
        state: AlertState | None = None,
        *,
        indicator: Indicator | None = None,
        feeds: IndicatorBook | None = None,
        now: Callable[[], float] = _time.monotonic,
    ) -> None:
        self.state = state or AlertState(None)
        self._indicator = indicator
        self._feeds = feeds
        """The book behind `indicator` when nobody else feeds it (`attach` then does, first)."""
        self._now = now
        self._listeners: list[AlertListener] = []
        self.recent: deque[AlertFired] = deque(maxlen=RECENT)
        """The latest fires of this run, oldest first (the UI's alert log)."""
        self._feed: FeedLike | None = None
        self._tracked: dict[str, _Tracked] = {}
        self._by_series: dict[SeriesKey, list[_Tracked]] = {}
        self._by_uid: dict[str, list[_Tracked]] = {}
        self._unresolved: list[_Tracked] = []
        self._live = False
        self._holds: dict[SeriesKey, Hold] = {}
        self._saved_at = now()
        self._changes = 0
        self.set_rules(rules)

    # ------------------------------------------------------------------ public surface

    def attach(self, feed: FeedLike) -> None:
        """Listens to `feed`: candles, last prices (when it announces them), transitions, changes."""
        self._feed = feed
        if self._feeds is not None:  # before the rules: they then read values that include the candle
            feed.add_candle_listener(self._feeds.on_candle)
        feed.add_candle_listener(self.on_candle)
        feed.add_event_listener(self.on_event)
        feed.add_listener(self.on_change)
        add_price: Any = getattr(feed, "add_price_listener", None)
        if add_price is not None:
            add_price(self.on_price)
        self._live = feed.health.state is ConnectionState.LIVE
        self._resolve()

    def add_listener(self, cb: AlertListener) -> None:
        """Registers `cb(fired)`, called on the event loop for every fire (a failing one is logged)."""
        self._listeners.append(cb)

    def set_rules(self, rules: Sequence[AlertRule]) -> None:
        """Replaces the rules (the watchlist changed); a kept rule keeps its state."""
        self._tracked = {rule.id: _Tracked(rule, self.state.of(rule)) for rule in rules}
        self.state.keep_only(set(self._tracked))
        self._by_series, self._by_uid = {}, {}
        self._unresolved = list(self._tracked.values())
        self._resolve()

    def statuses(self, key: WatchKey | None = None) -> list[RuleStatus]:
        """Every rule (or those reading `key`, a panel's series) with its armed/fired state, in
        file order."""
        result = []
        for item in self._tracked.values():
            if key is not None and item.rule.key != key:
                continue
            s = item.state
            last = None
            if s.last_time is not None and s.last_value is not None:
                last = AlertFired(item.rule, s.last_value, s.last_value, s.last_time, s.last_offline)
            result.append(RuleStatus(item.rule, s.armed, s.fired, last, item.key is not None))
        return result

    def arm(self, rule_id: str) -> bool:
        """Arms a rule (a fired `once` rule too): it fires at its next crossing. False: no such rule."""
        return self._switch(rule_id, armed=True)

    def disarm(self, rule_id: str) -> bool:
        """Disarms a rule: it fires no more until armed. False: no such rule."""
        return self._switch(rule_id, armed=False)

    def flush(self) -> None:
        """Saves what changed since the last save (call on exit)."""
        if self.state.dirty:
            self.state.save()
            self._saved_at = self._now()

    # ------------------------------------------------------------------ feeding

    def on_candle(self, key: SeriesKey, candle: Candle) -> None:
        """A candle changed the book (the feed's candle listener)."""
        if not candle.closed and candle.origin is _STREAM:
            return  # forming stream candles carry nothing a rule reads: the hot path stops here
        tracked = self._by_series.get(key)
        if tracked is None and self._unresolved:
            self._resolve()  # the history may come before the change listener's next look
            tracked = self._by_series.get(key)
        if tracked is None or self._feed is None:
            return
        series = self._feed.book.find(key)
        if series is None:
            return
        hold = self._holds.get(key)
        if candle.origin is Origin.BACKFILL:
            if not series.history_loaded:
                # The initial history: only what came after the last run's watermark counts.
                self._evaluate_candle(tracked, series, candle, offline=True, catch_up=True)
                return
            if in_gap(series, candle.time):
                self._evaluate_candle(tracked, series, candle, offline=True)
                return
        if hold is not None:
            if candle.closed:
                hold.candles.append(candle)
            return
        self._evaluate_candle(tracked, series, candle, offline=False)

    def on_price(self, uid: str, price: float, time: float) -> None:
        """A last price arrived (the feed's price listener)."""
        tracked = self._by_uid.get(uid)
        if tracked is None:
            return
        key = tracked[0].key
        hold = self._holds.get(key) if key is not None else None
        if hold is not None:
            hold.prices[uid] = (price, time)
            self._release(key)
            return
        self._evaluate_price(tracked, uid, price, time)

    def on_event(self, event: HealthEvent) -> None:
        """A connection transition: an outage holds live values until its backfill is in."""
        if event.lagging is not None:
            return
        live = event.state is ConnectionState.LIVE
        if live and not self._live:
            for hold in self._holds.values():
                hold.deadline = self._now() + HOLD_MAX_S
        elif not live and self._live and self._feed is not None:
            for key in self._by_series:
                series = self._feed.book.find(key)
                if series is not None and series.history_loaded and key not in self._holds:
                    self._holds[key] = Hold(list(series.backfilled))
        self._live = live

    def on_change(self) -> None:
        """After each batch of changes: resolve instruments, release holds, save now and then."""
        self._changes += 1
        if self._holds or not self._changes % _MAINTAIN_EVERY:
            self._maintain()

    def _maintain(self) -> None:
        if self._unresolved:
            self._resolve()
        if self._holds:
            for key in list(self._holds):
                self._release(key)
        if self.state.dirty and self._now() - self._saved_at >= SAVE_EVERY_S:
            self.flush()

    # ------------------------------------------------------------------ internals

    def _switch(self, rule_id: str, *, armed: bool) -> bool:
        item = self._tracked.get(rule_id)
        if item is None:
            return False
        state = item.state
        if armed and not state.armed:
            state.ready_up = state.ready_down = False  # armed anew: the next crossing from here
        state.armed = armed
        self.state.save()
        log.info("alert_armed" if armed else "alert_disarmed", rule=rule_id)
        return True

    def _resolve(self) -> None:
        feed = self._feed
        if feed is None:
            return
        waiting = []
        for item in self._unresolved:
            instrument = feed.instrument(item.rule.instrument)
            if instrument is None:
                waiting.append(item)
                continue
            item.key = SeriesKey(instrument.uid, item.rule.interval)
            default = float(instrument.price_step) * HYSTERESIS_STEPS
            item.hysteresis = item.rule.hysteresis if item.rule.hysteresis is not None else default
            self._by_series.setdefault(item.key, []).append(item)
            series = feed.book.find(item.key)
            if item.state.seen is not None and (series is None or not series.history_loaded):
                # Restarted: live values wait for the history, which holds what happened meanwhile.
                self._holds.setdefault(item.key, Hold(None, self._now() + HOLD_MAX_S))
            if not item.rule.condition.on_closed_candles:
                self._by_uid.setdefault(instrument.uid, []).append(item)
        self._unresolved = waiting

    def _release(self, key: SeriesKey | None) -> None:
        """Evaluates what a hold kept, once what it waits for is in (or it waited too long)."""
        hold = self._holds.get(key) if key is not None else None
        if hold is None or key is None or self._feed is None:
            return
        series = self._feed.book.find(key)
        if not hold.over(series, self._now()):
            return
        del self._holds[key]
        tracked = self._by_series.get(key, [])
        if series is not None:
            for candle in hold.candles:
                self._evaluate_candle(tracked, series, candle, offline=False)
        for uid, (price, at) in hold.prices.items():
            self._evaluate_price(self._by_uid.get(uid, []), uid, price, at)

    def _session_open(self, uid: str) -> float | None:
        quote = self._feed.book.quotes.get(uid) if self._feed is not None else None
        return quote.session_open if quote is not None else None

    def _price_threshold(self, item: _Tracked, uid: str) -> float | None:
        condition = item.rule.condition
        if condition.subject == "change":
            session_open = self._session_open(uid)
            return session_open * (1 + condition.level / 100) if session_open else None
        return condition.level

    def _evaluate_price(self, tracked: Sequence[_Tracked], uid: str, price: float, at: float) -> None:
        for item in tracked:
            state = item.state
            if state.seen is not None and at < state.seen:
                continue  # older than what this rule already saw
            threshold = self._price_threshold(item, uid)
            if threshold is None:
                continue
            baseline = state.seen is None
            state.seen = at
            self.state.dirty = True
            if observe(
                item.rule, state, Span.point(price - threshold), item.hysteresis, may_fire=not baseline
            ):
                value = self._shown(item, price, uid)
                self._fire(item, value, price, at, offline=False)

    def _evaluate_candle(
        self, tracked: Sequence[_Tracked], series: CandleSeries, candle: Candle, *, offline: bool,
        catch_up: bool = False,
    ) -> None:  # fmt: skip
        for item in tracked:
            state = item.state
            condition = item.rule.condition
            if catch_up and state.seen is None:
                continue  # a new rule's baseline is live data, never the history
            if not condition.on_closed_candles:
                if candle.origin is not Origin.BACKFILL:
                    continue  # price rules read prices live, candles only from a backfill
                if state.seen is not None and candle.time + series.key.interval.seconds <= state.seen:
                    continue
                threshold = self._price_threshold(item, series.key.uid)
                if threshold is None:
                    continue
                span = Span(candle.high - threshold, candle.low - threshold, candle.close - threshold)
                seen = float(candle.time)
            else:
                if not candle.closed or (state.seen is not None and candle.time <= state.seen):
                    continue  # a correction or a re-send of a period already judged: never again
                seen = float(candle.time)
                if condition.subject == "volume":
                    baseline = state.seen is None
                    state.seen, self.state.dirty = seen, True
                    threshold = volume_threshold(series, candle, condition.level, condition.period)
                    if volume_fires(state, candle.volume, threshold, may_fire=not baseline):
                        self._fire(item, float(candle.volume), candle, candle.time, offline=offline)
                    continue
                threshold = self._close_threshold(item, series, candle)
                if threshold is None:
                    continue
                span = Span.point(candle.close - threshold)
            baseline = state.seen is None
            state.seen = seen if state.seen is None else max(state.seen, seen)
            self.state.dirty = True
            way = observe(item.rule, state, span, item.hysteresis, may_fire=not baseline)
            if way is not None:
                # A close crossed at its close; a candle going up at its high, going down at its low.
                crossed = (
                    candle.close
                    if condition.on_closed_candles
                    else candle.high
                    if way == "up"
                    else candle.low
                )
                shown = self._shown(item, crossed, series.key.uid)
                self._fire(item, shown, candle, candle.time, offline=offline)

    def _close_threshold(self, item: _Tracked, series: CandleSeries, candle: Candle) -> float | None:
        condition = item.rule.condition
        if condition.reference == "level":
            return condition.level
        if self._indicator is None:
            return None
        return self._indicator(series, condition.reference, condition.period, candle.time)

    def _shown(self, item: _Tracked, price: float, uid: str) -> float:
        """The value an alert reports: the change in percent for change rules, else the price."""
        if item.rule.condition.subject == "change":
            session_open = self._session_open(uid)
            if session_open:
                return round((price / session_open - 1) * 100, 4)
        return price

    def _fire(
        self, item: _Tracked, value: float, source: float | Candle, at: float, *, offline: bool
    ) -> None:
        state = item.state
        state.fired += 1
        state.last_time, state.last_value, state.last_offline = float(at), value, offline
        if item.rule.mode == "once":
            state.armed = False
        self.state.save()  # before anyone hears of it: a crash now must not fire it again
        self._saved_at = self._now()
        fired = AlertFired(item.rule, value, source, float(at), offline)
        self.recent.append(fired)
        fields = fired.record()
        del fields["event"]
        log.info("alert_fired", **fields)
        for cb in self._listeners:
            try:
                cb(fired)
            except Exception:
                log.exception("alert_listener_failed", listener=repr(cb))

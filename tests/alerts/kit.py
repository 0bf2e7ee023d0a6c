"""Helpers for alert tests: a FakeFeed with an engine attached, hand-made candles, a naive SMA/EMA."""

from __future__ import annotations

from pathlib import Path

from monitor.alerts import AlertEngine, AlertFired, AlertRule, AlertState, make_rule
from monitor.feed import ConnectionState
from monitor.feed.testing import FakeFeed, ManualClock
from monitor.market import Candle, CandleSeries, Interval, Origin, SeriesKey

T0 = 1_764_000_000 // 60 * 60
"""A minute start: candle i starts at T0 + 60 * i."""
SBER = "SBER_TQBR"
SBER_KEY = SeriesKey("uid-sber", Interval.M1)


def candle(i: int, close: float, *, volume: int = 100, closed: bool = True, high: float | None = None,
           low: float | None = None, origin: Origin = Origin.STREAM) -> Candle:  # fmt: skip
    """Candle i of the minute series (open = close unless high/low say otherwise)."""
    return Candle(T0 + 60 * i, close, high if high is not None else close, low if low is not None else close,
                  close, volume, closed, origin)  # fmt: skip


def naive(series: CandleSeries, kind: str, n: int, time: int) -> float | None:
    """SMA/EMA of the closes of the closed candles up to `time`, computed from scratch."""
    closes = [c.close for c in series if c.closed and c.time <= time]
    if len(closes) < n:
        return None
    if kind == "sma":
        return sum(closes[-n:]) / n
    alpha, value = 2 / (n + 1), sum(closes[:n]) / n
    for close in closes[n:]:
        value = alpha * close + (1 - alpha) * value
    return value


class Rig:
    """A live FakeFeed, an engine on it and every AlertFired it emitted."""

    def __init__(self, *rules: AlertRule, state_dir: Path | None = None, history: bool = True) -> None:
        self.clock = ManualClock(T0 + 30)
        """Inside candle 0: later candles are later than every price set before advancing it."""
        self.feed = FakeFeed(clock=self.clock)
        self.feed.set_connection(ConnectionState.LIVE)
        self.series = self.feed.book.series(SBER_KEY)
        if history:
            self.series.mark_history_loaded()
        state = AlertState(state_dir / "state.json") if state_dir is not None else None
        self.wall = 0.0
        """The engine's wall clock (monotonic seconds), moved by the tests."""
        self.engine = AlertEngine(rules, state, indicator=naive, now=lambda: self.wall)
        self.engine.attach(self.feed)
        self.fired: list[AlertFired] = []
        self.engine.add_listener(self.fired.append)

    def prices(self, *prices: float) -> None:
        for price in prices:
            self.feed.set_price(SBER, price)

    def candles(self, *candles: Candle) -> None:
        self.feed.push_candles(SBER, Interval.M1, candles)

    def closes(self, *closes: float, start: int = 0) -> None:
        self.candles(*(candle(start + i, close) for i, close in enumerate(closes)))

    def backfill(self, *candles: Candle) -> None:
        """Candles of a gap fill: the period is marked missed first, as the Backfiller does."""
        for item in candles:
            self.series.mark_gap(item.time, item.time + 60)
        for item in candles:
            filled = item._replace(origin=Origin.BACKFILL)
            if self.feed.book.upsert(SBER_KEY, filled):
                self.engine.on_candle(SBER_KEY, filled)  # as the feed's candle listener is called
        for item in candles:
            self.series.mark_backfilled(item.time, item.time + 60)
        self.feed.notify()

    @property
    def values(self) -> list[float]:
        return [f.value for f in self.fired]


def rule(when: str, **fields: object) -> AlertRule:
    return make_rule(SBER, when, Interval.M1, **fields)  # type: ignore[arg-type]

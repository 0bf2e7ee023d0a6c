"""Panel badges and row dots: what the health model means for one watched series."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.feed.health import ConnectionState, Health, WatchHealth, WatchState
from monitor.market import Interval, TradingPhase, WatchKey
from monitor.ui.state import format_age

OK, WARN, ERROR, MUTED = "ok", "warn", "error", "muted"


@dataclass(frozen=True, slots=True)
class Badge:
    """A panel's status label, a short detail (age or reason) and its severity."""

    label: str
    detail: str = ""
    level: str = OK

    @property
    def text(self) -> str:
        return f"{self.label} {self.detail}".strip()


def stale_after(interval: Interval) -> float:
    """Seconds without data after which a trading series reads STALE.

    Two bar lengths, but at least 2 min (thin instruments trade rarely) and at most 15 min (a
    daily panel must not look live for a day after its stream died).
    """
    return min(max(2.0 * interval.seconds, 120.0), 900.0)


def panel_badge(health: Health, key: WatchKey, now: float, feed_down: str | None = None) -> Badge:
    """The badge of the panel showing `key`.

    Connection trouble comes first (every panel shares it), then the entry's own failure, then
    the market phase: a closed market reads CLOSED, never STALE, because silence is expected.
    """
    watch = health.watch.get(key)
    age = _age(watch, now)
    if feed_down is not None or health.state is ConnectionState.DOWN:
        return Badge("ERROR", "feed down", ERROR)
    if health.state is ConnectionState.AUTH_FAILED:
        return Badge("ERROR", "token rejected", ERROR)
    if watch is not None and watch.state is WatchState.FAILED:
        return Badge("ERROR", watch.reason or "failed", ERROR)
    if health.state is ConnectionState.RECONNECTING:
        return Badge("RECONNECTING", format_age(age) if age is not None else "", WARN)
    if health.state is ConnectionState.CONNECTING:
        return Badge("CONNECTING", "", WARN)
    phase = health.trading.get(watch.uid) if watch is not None and watch.uid else None
    if phase is TradingPhase.CLOSED:
        return Badge("CLOSED", format_age(age) if age is not None else "", MUTED)
    if health.state is ConnectionState.STALE:
        return Badge("STALE", format_age(age) if age is not None else "", WARN)
    if watch is None or watch.state in (WatchState.RESOLVING, WatchState.PENDING):
        return Badge("PENDING", "", WARN)
    if watch.state is WatchState.RETRYING:
        return Badge("RETRYING", watch.reason or "", WARN)
    if age is None:
        return Badge("LIVE", "no trades yet", OK)
    if age > stale_after(key.interval):
        return Badge("STALE", format_age(age), WARN)
    return Badge("LIVE", format_age(age), OK)


def _age(watch: WatchHealth | None, now: float) -> float | None:
    if watch is None or watch.last_data_at is None:
        return None
    return max(0.0, now - watch.last_data_at)


def row_level(health: Health, key: WatchKey, feed_down: bool = False) -> str:
    """The colour of a row's health dot: ok (live), warn (pending/retrying), error, muted (closed)."""
    watch = health.watch.get(key)
    if watch is not None and watch.state is WatchState.FAILED:
        return ERROR
    if feed_down or health.state in (ConnectionState.DOWN, ConnectionState.AUTH_FAILED):
        return ERROR
    if watch is not None and watch.uid and health.trading.get(watch.uid) is TradingPhase.CLOSED:
        return MUTED
    if watch is None or watch.state is not WatchState.ACTIVE or health.state is not ConnectionState.LIVE:
        return WARN
    return OK

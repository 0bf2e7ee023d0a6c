"""Panel badges and row dots: what a watch key's view and the connection mean on screen."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.feed import ConnectionState, Health, WatchState, WatchView
from monitor.market import Interval, TradingPhase
from monitor.ui.times import format_age

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


def panel_badge(view: WatchView, health: Health, now: float, feed_down: str | None = None) -> Badge:
    """The badge of the panel showing `view`.

    Connection trouble comes first (every panel shares it), then the entry's own failure, then
    the market phase: a closed market reads CLOSED, never STALE, because silence is expected.
    """
    age = view.age(now)
    aged = format_age(age) if age is not None else ""
    if feed_down is not None or health.state is ConnectionState.DOWN:
        return Badge("ERROR", "feed down", ERROR)
    if health.state is ConnectionState.AUTH_FAILED:
        return Badge("ERROR", "token rejected", ERROR)
    if view.state is WatchState.FAILED:
        return Badge("ERROR", view.reason or "failed", ERROR)
    if health.state is ConnectionState.RECONNECTING:
        return Badge("RECONNECTING", aged, WARN)
    if health.state is ConnectionState.CONNECTING:
        return Badge("CONNECTING", "", WARN)
    if view.phase is TradingPhase.CLOSED:
        return Badge("CLOSED", aged, MUTED)
    if health.state is ConnectionState.STALE:
        return Badge("STALE", aged, WARN)
    if view.state in (WatchState.RESOLVING, WatchState.PENDING):
        return Badge("PENDING", "", WARN)
    if view.state is WatchState.RETRYING:
        return Badge("RETRYING", view.reason or "", WARN)
    if age is None:
        return Badge("LIVE", "no trades yet", OK)
    if age > stale_after(view.key.interval):
        return Badge("STALE", aged, WARN)
    return Badge("LIVE", aged, OK)


def row_level(view: WatchView, health: Health, feed_down: bool = False) -> str:
    """The colour of a row's health dot: ok (live), warn (pending/retrying), error, muted (closed)."""
    if view.state is WatchState.FAILED:
        return ERROR
    if feed_down or health.state in (ConnectionState.DOWN, ConnectionState.AUTH_FAILED):
        return ERROR
    if view.phase is TradingPhase.CLOSED:
        return MUTED
    if view.state is not WatchState.ACTIVE or health.state is not ConnectionState.LIVE:
        return WARN
    return OK

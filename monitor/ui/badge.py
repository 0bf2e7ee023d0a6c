"""Panel badges and row dots: what a watch key's view and the connection mean on screen."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.feed import ConnectionState, Health, WatchState, WatchView
from monitor.market import TradingPhase
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


NO_DATA_AFTER_S = 30.0
"""Seconds without a candle update after which a panel of a trading market reads NO DATA, not LIVE.

This is every interval's expected gap: the feed subscribes with `waiting_close` off, so the server
sends a series' forming candle on every trade, whatever the bar length; while the market trades,
updates come at the pace of trades, not of bars. 30 s is half the shortest bar (1 minute): a liquid
instrument's quiet spells stay well under it, and a dead stream shows on the panels before the
connection watchdog (3 missed 15 s pings, 45 s) calls the connection STALE. A thin instrument that
really does not trade for 30 s reads NO DATA too, which is what happened.
"""
QUIET_PHASES = (TradingPhase.CLOSED, TradingPhase.LIMITED)
"""Phases in which silence is expected (closed, auction): the panel never reads NO DATA then."""


def panel_badge(view: WatchView, health: Health, now: float, feed_down: str | None = None) -> Badge:
    """The badge of the panel showing `view`.

    Connection trouble comes first (every panel shares it), then the entry's own failure, then
    the market phase: a closed market reads CLOSED, never STALE or NO DATA, because silence is
    expected. A series whose stream delivers late reads LAGGING with the lag; one silent beyond
    NO_DATA_AFTER_S while its market trades (or its phase is not known yet) reads NO DATA with the
    silence, never LIVE.
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
    if view.lag is not None:
        return Badge("LAGGING", format_age(view.lag), WARN)
    if age is None:
        return Badge("LIVE", "no trades yet", OK)
    if no_data(view, now):
        return Badge("NO DATA", aged, WARN)
    return Badge("LIVE", aged, OK)


def no_data(view: WatchView, now: float) -> bool:
    """Whether the series has been silent beyond NO_DATA_AFTER_S while its market may trade."""
    age = view.age(now)
    return age is not None and age > NO_DATA_AFTER_S and view.phase not in QUIET_PHASES


def row_level(view: WatchView, health: Health, now: float, feed_down: bool = False) -> str:
    """The colour of a row's health dot: ok (live), warn (pending, retrying, lagging, no data),
    error, muted (closed); it agrees with the panel's badge (panel_badge) on each of these."""
    if view.state is WatchState.FAILED:
        return ERROR
    if feed_down or health.state in (ConnectionState.DOWN, ConnectionState.AUTH_FAILED):
        return ERROR
    if view.phase is TradingPhase.CLOSED:
        return MUTED
    if view.state is not WatchState.ACTIVE or health.state is not ConnectionState.LIVE:
        return WARN
    if view.lag is not None or no_data(view, now):
        return WARN
    return OK

"""What each widget shows, derived from the feed's read model: sidebar rows and panel views."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from monitor.feed import Health, WatchView
from monitor.market import CandleSeries, TradingPhase, WatchKey
from monitor.market.indicators import IndicatorSpec
from monitor.ui.badge import MUTED, Badge, panel_badge, row_level
from monitor.ui.chartview import LIVE, ChartState
from monitor.ui.render.scale import decimals_for, format_price

PHASE_LABELS = {TradingPhase.TRADING: "open", TradingPhase.LIMITED: "auct", TradingPhase.CLOSED: "closed"}
EMPTY_BADGE = Badge("EMPTY", "", MUTED)


@dataclass(frozen=True, slots=True)
class Row:
    """One sidebar row, already formatted."""

    ticker: str
    interval: str
    price: str
    change: float | None
    phase: str
    level: str
    mark: str = ""
    """`⚑` while an alert on the row's series fired unseen (shown before the phase)."""


@dataclass(frozen=True)
class PanelView:
    """Everything a panel draws, computed by the app on its render tick.

    The series is passed by reference; `series_version` is what tells the panel it moved.
    """

    key: WatchKey | None
    title: str
    badge: Badge
    series: CandleSeries | None = None
    series_version: int = -1
    last_price: float | None = None
    price_step: float | None = None
    tz: datetime.tzinfo = datetime.UTC
    message: str = ""
    """Shown instead of the chart when there is nothing to draw (the reason of a failure)."""
    chart: ChartState = LIVE
    """Where the panel looks: cursor, scroll-back and zoom (the panel works out the window)."""
    loading: bool = False
    """A page of older candles is in flight."""
    at_start: bool = False
    """The series holds the instrument's first candle."""
    history_error: str | None = None
    """Why the last page of older candles failed."""
    indicators: tuple[IndicatorSpec, ...] = ()
    """What the panel draws over and under its candles (the watchlist's, for its entry)."""
    mark: str = ""
    """`⚑ 354.50` while an alert on the series fired unseen (shown in the title)."""


def row_of(view: WatchView, health: Health, now: float, feed_down: bool, mark: str = "") -> Row:
    """The sidebar row of one watchlist entry."""
    instrument, quote = view.instrument, view.quote
    step = float(instrument.price_step) if instrument else None
    price = quote.price if quote else None
    phase = PHASE_LABELS.get(view.phase, "") if view.phase else ""
    return Row(
        ticker=instrument.ticker if instrument else view.key.id.split("_")[0],
        interval=view.key.interval.code,
        # Two decimals while the step is unknown; grouped in threes so long prices stay readable.
        price=format_price(price, decimals_for(step, 0.0), grouped=True),
        change=quote.change if quote else None,
        phase=f"{mark} {phase}".strip(),
        level=row_level(view, health, now, feed_down),
        mark=mark,
    )


def empty_panel() -> PanelView:
    return PanelView(
        None, "empty", EMPTY_BADGE, message="Select a row and press Enter\nor f: fill from the list"
    )


def panel_of(
    view: WatchView,
    health: Health,
    now: float,
    tz: datetime.tzinfo,
    feed_down: str | None,
    chart: ChartState = LIVE,
    indicators: tuple[IndicatorSpec, ...] = (),
    mark: str = "",
) -> PanelView:
    """What the panel showing `view` draws: title, badge, series and the reason of a failure."""
    key, instrument, series, quote = view.key, view.instrument, view.series, view.quote
    badge, code = panel_badge(view, health, now, feed_down), key.interval.code
    message = ""
    if badge.label == "ERROR" and view.reason:
        message = f"{key.id}: {view.reason}\nThe other panels keep streaming.\nx removes it; or fix the file."
    history = view.history
    oldest = series.oldest if series is not None else None
    # The first-candle date says it too, before a page came back empty.
    first = history.first_time is not None and oldest is not None and oldest.time <= history.first_time
    title = f"{instrument.ticker} {code} · {instrument.name}" if instrument else f"{key.id} {code}"
    return PanelView(
        key=key,
        title=f"{mark}{' ' * bool(mark)}{title}",
        badge=badge,
        series=series,
        series_version=series.version if series is not None else -1,
        last_price=quote.price if quote else None,
        price_step=float(instrument.price_step) if instrument else None,
        tz=tz,
        message=message,
        chart=chart,
        loading=history.loading,
        at_start=history.at_start or first,
        history_error=history.error,
        indicators=indicators,
        mark=mark,
    )

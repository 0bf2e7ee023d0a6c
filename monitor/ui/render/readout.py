"""The cursor readout: one candle's time, OHLC, change, volume, state and indicator values as a line."""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping
from typing import Literal

from monitor.market import Candle, Origin
from monitor.ui.render.geometry import sane_value
from monitor.ui.render.scale import decimals_for, format_price

CandleState = Literal["forming", "closed", "backfilled"]


def candle_state(candle: Candle) -> CandleState:
    """Forming while it is open, backfilled when GetCandles filled it in, else closed."""
    if not candle.closed:
        return "forming"
    return "backfilled" if candle.origin is Origin.BACKFILL else "closed"


def readout_text(
    candle: Candle,
    previous_close: float | None,
    state: str,
    tz: datetime.tzinfo,
    price_step: float | None,
    indicator_values: Mapping[str, float | None],
) -> str:
    """The readout line of the cursor's candle, e.g.

    `25.11.26 10:05  O 3 944.4  H 3 950.0  L 3 940.1  C 3 948.2  +3.8 +0.10%  V 12 345  closed  SMA 20 …`

    Prices have the decimals of the price step and the list's thousands grouping; the change is
    from `previous_close` (omitted when there is none); an unknown indicator value reads "—".
    """
    close = sane_value(candle.close)
    decimals = decimals_for(price_step, abs(close) if close is not None else 0.0)

    def price(value: float | None) -> str:
        return format_price(sane_value(value), decimals, grouped=True)

    try:
        start = datetime.datetime.fromtimestamp(candle.time, tz).strftime("%d.%m.%y %H:%M")
    except (OverflowError, OSError, ValueError):
        start = "—"
    parts = [
        start,
        f"O {price(candle.open)}",
        f"H {price(candle.high)}",
        f"L {price(candle.low)}",
        f"C {price(candle.close)}",
    ]
    previous = sane_value(previous_close)
    if previous is not None and close is not None:
        change = close - previous
        sign = "+" if change >= 0 else "-"
        percent = change / previous * 100 if previous else math.nan
        text = f"{sign}{format_price(abs(change), decimals, grouped=True)}"
        if math.isfinite(percent):
            text += f" {percent:+.2f}%"
        parts.append(text)
    parts.append(f"V {max(0, candle.volume):,}".replace(",", " "))
    parts.append(state)
    for label, value in indicator_values.items():
        parts.append(f"{label} {price(value)}")
    return "  ".join(parts)

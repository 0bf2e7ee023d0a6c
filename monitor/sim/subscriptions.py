"""What one stream has subscribed: a candle series with its delivery state, or an info / last price."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from monitor.market import Interval
from monitor.sim.catalogue import SimInstrument


@dataclass
class CandleSub:
    """An active candle subscription and where its delivery stands."""

    item: SimInstrument
    interval: Interval
    waiting_close: bool
    subscription_id: str
    period: int  # start of the period now forming
    corrections: list[tuple[float, int]] = field(default_factory=list)  # (due, period start)
    forming_at: float = -math.inf
    forming: tuple[int, int, int, int, int, int] | None = None


@dataclass
class PlainSub:
    """An info or last-price subscription."""

    item: SimInstrument
    subscription_id: str
    last: object = None

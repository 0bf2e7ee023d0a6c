"""The crossing state machine of one rule: whether an observation fires it, and how it re-arms.

Every rule compares a value with a threshold: `diff = value - threshold`. `above` fires when the
value reaches the threshold (diff ≥ 0) from below, `below` when it reaches it (diff ≤ 0) from
above, `crosses` either way. A rule is only ready to fire once the value was seen on the far side:
before its first fire strictly beyond the threshold, after a fire (a `rearm` rule) beyond it by
the hysteresis. So a re-sent, corrected or backfilled observation never fires twice: after a
fire the rule is not ready until the value has moved back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from monitor.alerts.rules import AlertRule
from monitor.alerts.state import RuleState
from monitor.market import Candle, CandleSeries


@dataclass(frozen=True, slots=True)
class Span:
    """The diffs one observation covers: a price is one point, a candle runs from its low to its
    high and ends at its close (the order inside a candle is unknown: it arms on the close only)."""

    high: float
    low: float
    end: float

    @classmethod
    def point(cls, diff: float) -> Span:
        """One price."""
        return cls(diff, diff, diff)


Fire = Literal["up", "down"] | None
"""Which way a rule fired (None: it did not)."""


def observe(rule: AlertRule, state: RuleState, span: Span, hysteresis: float, *, may_fire: bool) -> Fire:
    """Moves `state` by one observation; the way the rule fired, if it did (never when `may_fire`
    is False: a baseline only arms, and a crossing it sees disarms silently)."""
    direction = rule.condition.direction
    fired: Fire = None
    allowed = may_fire and state.armed
    if direction in ("above", "crosses") and state.ready_up and span.high >= 0:
        state.ready_up = False
        fired = "up" if allowed else None
        if direction == "crosses":
            state.ready_down = False
    if fired is None and direction in ("below", "crosses") and state.ready_down and span.low <= 0:
        state.ready_down = False
        fired = "down" if allowed else None
        if direction == "crosses":
            state.ready_up = False
    # Back on the far side: by the hysteresis once the rule has fired, strictly before that.
    back = hysteresis if state.fired or fired is not None else 0.0
    if direction in ("above", "crosses") and span.end < -back and span.end < 0:
        state.ready_up = True
    if direction in ("below", "crosses") and span.end > back and span.end > 0:
        state.ready_down = True
    return fired


def volume_fires(state: RuleState, volume: float, threshold: float | None, *, may_fire: bool) -> bool:
    """A volume rule fires for each closed candle whose volume reaches N × the average."""
    return may_fire and state.armed and threshold is not None and volume >= threshold


def in_gap(series: CandleSeries, time: int) -> bool:
    """Whether `time` lies in a period the series holds as missed (a gap fill is bringing it)."""
    return any(lo <= time < hi for lo, hi in series.gaps)


def volume_threshold(series: CandleSeries, candle: Candle, multiple: float, count: int) -> float | None:
    """N × the average volume of the `count` closed candles before `candle`; None without enough."""
    # The candle is nearly always among the newest: the tail first, the whole series only if short.
    previous = [c for c in series.last(count + 4) if c.time < candle.time and c.closed][-count:]
    if len(previous) < count:
        previous = [c for c in series.last() if c.time < candle.time and c.closed][-count:]
    if len(previous) < count:
        return None
    return multiple * sum(c.volume for c in previous) / count

"""`AlertFired`: what the engine tells its listeners (the TUI, `monitor stream`) when a rule fires."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from monitor.alerts.rules import AlertRule
from monitor.market import Candle


@dataclass(frozen=True, slots=True)
class AlertFired:
    """One firing of one rule.

    `value` is what crossed: the price, the close, the change in percent or the candle's volume;
    `price_or_candle` is the last price (price and change rules, live) or the candle it was seen
    in (close and volume rules, and price rules fired from a backfilled candle); `time` is the
    price's time or the candle's start (UTC epoch seconds); `offline` says the crossing happened
    while the feed (or the monitor) was down and was only seen in the backfill.
    """

    rule: AlertRule
    value: float
    price_or_candle: float | Candle
    time: float
    offline: bool = False

    @property
    def iso_time(self) -> str:
        """`time` as ISO-8601 UTC (`2026-12-03T10:15:00Z`)."""
        return datetime.fromtimestamp(self.time, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def title(self) -> str:
        """A short line for a toast or a desktop notification: `SBER_TQBR price above 354.5`."""
        return f"{self.rule.instrument} {self.rule.when}"

    @property
    def body(self) -> str:
        """What happened, with the note: `356.1 at 2026-12-03T10:15:00Z (while offline) — breakout`."""
        offline = " (while offline)" if self.offline else ""
        note = f" — {self.rule.note}" if self.rule.note else ""
        return f"{self.value:g} at {self.iso_time}{offline}{note}"

    def record(self) -> dict[str, object]:
        """The NDJSON object `monitor stream --json` prints (and the log's fields)."""
        return {
            "event": "alert",
            "rule": self.rule.id,
            "instrument": self.rule.instrument,
            "when": self.rule.when,
            "value": self.value,
            "time": self.iso_time,
            "offline": self.offline,
            "note": self.rule.note,
        }

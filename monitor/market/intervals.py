"""Candle intervals: names, API numbers and period arithmetic in UTC."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime
from enum import Enum

_WEEK_EPOCH_MONDAY = 4 * 86_400  # 1970-01-01 was a Thursday; 1970-01-05 00:00 UTC is a Monday.


class Interval(Enum):
    """A candle interval. The value is the API number, shared by SubscriptionInterval 1-13 and
    CandleInterval 1-13 (the contract lines them up one to one; CandleInterval 14-16 are
    `SecondsInterval`)."""

    M1 = 1
    M5 = 2
    M15 = 3
    H1 = 4
    D1 = 5
    M2 = 6
    M3 = 7
    M10 = 8
    M30 = 9
    H2 = 10
    H4 = 11
    W1 = 12
    MN1 = 13

    @property
    def code(self) -> str:
        """The short name users type: 1m, 5m, 1h, 1d, 1w, 1M."""
        return _CODES[self]

    @property
    def seconds(self) -> int:
        """Nominal length in seconds (a month counts as 30 days; use `next_start` for exact ends)."""
        return _SECONDS[self]

    @classmethod
    def parse(cls, text: str) -> Interval:
        """Reads a short name (`1m`, `15m`, `1h`, `1d`, `1w`, `1M`) or an enum name (`M1`)."""
        value = text.strip()
        for interval in cls:
            if value == interval.code or value.upper() == interval.name:
                return interval
        # Lower-case month spellings are unambiguous only in their long forms.
        if value.lower() in ("1mo", "1mon", "month"):
            return cls.MN1
        choices = ", ".join(i.code for i in ordered())
        raise ValueError(f"unknown interval {text!r}; expected one of {choices}")

    def start_of(self, ts: int) -> int:
        """The start (UTC epoch seconds) of the period that contains `ts`."""
        if self is Interval.MN1:
            moment = datetime.fromtimestamp(ts, UTC)
            return calendar.timegm((moment.year, moment.month, 1, 0, 0, 0))
        if self is Interval.W1:
            return ts - (ts - _WEEK_EPOCH_MONDAY) % self.seconds
        return ts - ts % self.seconds

    def next_start(self, start: int) -> int:
        """The start of the period after the one that starts at `start`."""
        if self is Interval.MN1:
            moment = datetime.fromtimestamp(start, UTC)
            year, month = (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
            return calendar.timegm((year, month, 1, 0, 0, 0))
        return start + self.seconds

    def periods(self, start: int, end: int) -> list[int]:
        """Starts of every period that begins in [start, end), with start aligned first."""
        return _periods(self, start, end)


class SecondsInterval(Enum):
    """A GetCandles-only interval (CandleInterval 14-16). The stream's SubscriptionInterval has no
    seconds values, so these are kept apart from `Interval`: nothing that subscribes can name one."""

    S5 = 14
    S10 = 15
    S30 = 16

    @property
    def seconds(self) -> int:
        """Length in seconds (exact: these periods divide a minute)."""
        return _SECONDS_SHORT[self]

    def start_of(self, ts: int) -> int:
        """The start (UTC epoch seconds) of the period that contains `ts`."""
        return ts - ts % self.seconds

    def next_start(self, start: int) -> int:
        """The start of the period after the one that starts at `start`."""
        return start + self.seconds

    def periods(self, start: int, end: int) -> list[int]:
        """Starts of every period that begins in [start, end), with start aligned first."""
        return _periods(self, start, end)


HistoryInterval = Interval | SecondsInterval
"""Any CandleInterval GetCandles serves: the stream's intervals plus the seconds ones."""


def _periods(interval: HistoryInterval, start: int, end: int) -> list[int]:
    result: list[int] = []
    at = interval.start_of(start)
    if at < start:
        at = interval.next_start(at)
    while at < end:
        result.append(at)
        at = interval.next_start(at)
    return result


_SECONDS_SHORT: dict[SecondsInterval, int] = {
    SecondsInterval.S5: 5,
    SecondsInterval.S10: 10,
    SecondsInterval.S30: 30,
}


_SECONDS: dict[Interval, int] = {
    Interval.M1: 60,
    Interval.M2: 120,
    Interval.M3: 180,
    Interval.M5: 300,
    Interval.M10: 600,
    Interval.M15: 900,
    Interval.M30: 1800,
    Interval.H1: 3600,
    Interval.H2: 7200,
    Interval.H4: 14_400,
    Interval.D1: 86_400,
    Interval.W1: 7 * 86_400,
    Interval.MN1: 30 * 86_400,
}

_CODES: dict[Interval, str] = {
    Interval.M1: "1m",
    Interval.M2: "2m",
    Interval.M3: "3m",
    Interval.M5: "5m",
    Interval.M10: "10m",
    Interval.M15: "15m",
    Interval.M30: "30m",
    Interval.H1: "1h",
    Interval.H2: "2h",
    Interval.H4: "4h",
    Interval.D1: "1d",
    Interval.W1: "1w",
    Interval.MN1: "1M",
}


def ordered() -> list[Interval]:
    """Every interval from the shortest to the longest (the order `i`/`I` cycle through)."""
    return sorted(Interval, key=lambda interval: interval.seconds)

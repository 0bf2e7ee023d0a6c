"""Candles and instruments as plain values: what the book stores and the UI draws."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum
from typing import NamedTuple

from monitor.market.intervals import Interval


class Origin(Enum):
    """Where a candle came from: the live stream or a GetCandles backfill."""

    STREAM = "stream"
    BACKFILL = "backfill"


class Candle(NamedTuple):
    """One OHLCV candle of one (instrument, interval) series.

    Prices are per one security as floats (the book and the renderers need speed, not exact
    decimals); `volume` is in lots; `time` is the interval start in UTC epoch seconds.

    A named tuple rather than a frozen dataclass: the receive loop builds one per streamed message,
    and a tuple is built in a sixth of the time and compared in C (the ingest budget of issue 5).
    Immutable all the same; `_replace` makes a changed copy.
    """

    time: int
    open: float
    high: float
    low: float
    close: float
    volume: int
    closed: bool
    origin: Origin = Origin.STREAM


@dataclass(frozen=True, slots=True)
class Instrument:
    """An instrument as resolved from the API: the uid is the key everywhere."""

    uid: str
    figi: str
    ticker: str
    class_code: str
    name: str
    lot: int
    price_step: Decimal
    kind: str = "share"
    currency: str = "rub"
    # When the API's history starts (epoch s); facts about the record, not part of its identity.
    first_1min: int | None = field(default=None, compare=False)
    """Start of the first minute candle (history of every intraday interval), if known."""
    first_1day: int | None = field(default=None, compare=False)
    """Start of the first day candle (history of day, week and month candles), if known."""

    def first_candle(self, interval: Interval) -> int | None:
        """Where the instrument's history of `interval` starts, if known: the first minute candle
        for intraday intervals, the first day candle for a day and longer."""
        return self.first_1min if interval.seconds < 86_400 else self.first_1day

    @property
    def symbol(self) -> str:
        """The `TICKER_CLASSCODE` form the API accepts as an instrument_id."""
        return f"{self.ticker}_{self.class_code}"


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """Identifies one candle series: an instrument uid and an interval."""

    uid: str
    interval: Interval


@dataclass(frozen=True, slots=True)
class WatchKey:
    """One watched series as the user named it: a watchlist id and an interval.

    The id is what the watchlist file says (`TICKER_CLASSCODE`, a FIGI or a uid); the feed resolves
    it to an instrument and its SeriesKey. The watchlist's entries, the feed's watch set and the
    UI's panels all hold this one type.
    """

    id: str
    """TICKER_CLASSCODE, FIGI or instrument uid."""
    interval: Interval = Interval.M1
    """Candle interval of this entry."""

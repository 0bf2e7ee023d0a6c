"""The pure market domain: intervals, candles, instruments and the candle book."""

from monitor.market.book import CandleBook, CandleSeries, Quote
from monitor.market.candle import Candle, Instrument, Origin, SeriesKey, WatchKey
from monitor.market.intervals import Interval, ordered
from monitor.market.ranges import RangeSet
from monitor.market.trading import TradingPhase, phase_of

__all__ = [
    "Candle",
    "CandleBook",
    "CandleSeries",
    "Instrument",
    "Interval",
    "Origin",
    "Quote",
    "RangeSet",
    "SeriesKey",
    "TradingPhase",
    "WatchKey",
    "ordered",
    "phase_of",
]

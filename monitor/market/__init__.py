"""The pure market domain: intervals, candles, instruments and the candle book."""

from monitor.market.book import CandleBook, CandleSeries, Quote
from monitor.market.candle import Candle, Instrument, Origin, SeriesKey, WatchKey
from monitor.market.intervals import HistoryInterval, Interval, SecondsInterval, ordered
from monitor.market.ranges import RangeSet
from monitor.market.trading import TradingPhase, phase_of

__all__ = [
    "Candle",
    "CandleBook",
    "CandleSeries",
    "HistoryInterval",
    "Instrument",
    "Interval",
    "Origin",
    "Quote",
    "RangeSet",
    "SecondsInterval",
    "SeriesKey",
    "TradingPhase",
    "WatchKey",
    "ordered",
    "phase_of",
]

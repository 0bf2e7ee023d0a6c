"""The pure market domain: intervals, candles, instruments and the candle book."""

from monitor.market.candle import Candle, Instrument, Origin, SeriesKey
from monitor.market.intervals import Interval, ordered

__all__ = ["Candle", "Instrument", "Interval", "Origin", "SeriesKey", "ordered"]

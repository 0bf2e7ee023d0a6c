"""Chart indicators (SMA, EMA, Bollinger, VWAP, RSI, MACD): specs, computations and the incremental book."""

from monitor.market.indicators.book import IndicatorBook, IndicatorValues
from monitor.market.indicators.compute import session_of
from monitor.market.indicators.spec import (
    KINDS,
    MAX_PERIOD,
    SYNTAX,
    IndicatorSpec,
    IndicatorSpecError,
    default_spec,
    parse_indicator,
)

__all__ = [
    "KINDS",
    "MAX_PERIOD",
    "SYNTAX",
    "IndicatorBook",
    "IndicatorSpec",
    "IndicatorSpecError",
    "IndicatorValues",
    "default_spec",
    "parse_indicator",
    "session_of",
]

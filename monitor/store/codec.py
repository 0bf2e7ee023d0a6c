"""Prices at rest: exact integer nano-units, and the rows the store keeps for candles and instruments."""

from __future__ import annotations

from decimal import Decimal

from monitor.market import Candle, Instrument, Origin

NANO = 1_000_000_000
EXACT_BELOW = 2_000_000.0
"""Largest price whose float (units + nano / 1e9) still rounds back to its exact nano count.

A float carries ~15.9 significant digits; `round(price * 1e9)` is off by less than half a nano
while |price| stays below ~2.2e6, which covers every instrument the API quotes in practice.
"""

SOURCE_STREAM = 0
SOURCE_HISTORY = 1
_SOURCE_OF: dict[Origin, int] = {Origin.STREAM: SOURCE_STREAM, Origin.BACKFILL: SOURCE_HISTORY}
_ORIGIN_OF: dict[int, Origin] = {SOURCE_STREAM: Origin.STREAM, SOURCE_HISTORY: Origin.BACKFILL}
SOURCE_NAMES: dict[int, str] = {SOURCE_STREAM: "stream", SOURCE_HISTORY: "history"}

CandleRow = tuple[int, int, int, int, int, int, int]
"""(time, open, high, low, close, volume, source) with prices in nano-units."""


def to_nano(price: float) -> int:
    """The exact nano count of a price the client computed as units + nano / 1e9."""
    return round(price * NANO)


def from_nano(value: int) -> float:
    """The float the wire gives for these nano-units, bit for bit: units + nano / 1e9, as the feed does."""
    units, nano = divmod(abs(value), NANO)
    sign = -1 if value < 0 else 1
    return sign * units + sign * nano / NANO


def nano_text(value: int) -> str:
    """An exact decimal in plain notation: 314150000000 -> "314.15", 5 -> "0.000000005"."""
    units, nano = divmod(abs(value), NANO)
    text = f"{units}.{nano:09d}".rstrip("0").rstrip(".")
    return f"-{text}" if value < 0 else text


def nano_decimal(value: int) -> Decimal:
    """The exact Decimal of these nano-units."""
    return Decimal(value).scaleb(-9).normalize() if value else Decimal(0)


def candle_row(candle: Candle) -> CandleRow:
    """The row of a closed candle."""
    return (
        candle.time,
        round(candle.open * NANO),
        round(candle.high * NANO),
        round(candle.low * NANO),
        round(candle.close * NANO),
        candle.volume,
        _SOURCE_OF[candle.origin],
    )


def row_candle(row: CandleRow) -> Candle:
    """The closed candle of a row."""
    time, open_, high, low, close, volume, source = row
    return Candle(
        time,
        from_nano(open_),
        from_nano(high),
        from_nano(low),
        from_nano(close),
        volume,
        True,
        _ORIGIN_OF.get(source, Origin.BACKFILL),
    )


InstrumentRow = tuple[str, str, str, str, str, int, str, str, str]
"""(uid, figi, ticker, class_code, name, lot, price_step, kind, currency): price_step as exact text."""


def instrument_row(instrument: Instrument) -> InstrumentRow:
    i = instrument
    return (i.uid, i.figi, i.ticker, i.class_code, i.name, i.lot, str(i.price_step), i.kind, i.currency)


def row_instrument(row: InstrumentRow) -> Instrument:
    uid, figi, ticker, class_code, name, lot, step, kind, currency = row
    return Instrument(uid, figi, ticker, class_code, name, lot, Decimal(step), kind, currency)

"""Protobuf market messages to market values, and the closed-versus-forming decision."""

from __future__ import annotations

from decimal import Decimal

from monitor.market import Candle, Instrument, Interval, Origin
from monitor.pb import common_pb2, instruments_pb2, marketdata_pb2
from monitor.wire import NANO, QuotationError, check_quotation, from_quotation, quotation_to_float

MAX_PAST_S = 45 * 86_400
"""Oldest plausible stream candle start: a month candle starts up to 31 days back."""
MAX_FUTURE_S = 86_400
"""Newest plausible stream candle start: allows for clock skew, never for a different day."""


def checked_candle(msg: marketdata_pb2.Candle, current: int, now: float) -> Candle | str:
    """A streamed candle as a book value, or why it must be skipped (hostile or malformed).

    Runs on the receive loop for every candle, so it reads each field once and checks with plain
    int and float comparisons; the presence checks (HasField) run only when a value is zero,
    which is what an absent field reads as.

    Args:
        msg: the stream candle.
        current: the start of the newest period the stream has delivered for the series: a
            candle that starts before it is one the server already moved past, hence closed.
        now: the receive time.
    """
    time = msg.time.seconds
    if not now - MAX_PAST_S <= time <= now + MAX_FUTURE_S:
        return "candle time out of range" if msg.HasField("time") else "candle without time"
    q = msg.open
    ou, on = q.units, q.nano
    q = msg.high
    hu, hn = q.units, q.nano
    q = msg.low
    lu, ln = q.units, q.nano
    q = msg.close
    cu, cn = q.units, q.nano
    # Same sign and |nano| < 1e9: a product below zero means mixed signs, and one bound per nano.
    if (
        ou * on < 0
        or hu * hn < 0
        or lu * ln < 0
        or cu * cn < 0
        or not (-NANO < on < NANO and -NANO < hn < NANO and -NANO < ln < NANO and -NANO < cn < NANO)
    ):
        return _quotation_reason(((ou, on), (hu, hn), (lu, ln), (cu, cn)))
    open_, high, low, close = ou + on / NANO, hu + hn / NANO, lu + ln / NANO, cu + cn / NANO
    if not (open_ and high and low and close) and not (
        msg.HasField("open") and msg.HasField("high") and msg.HasField("low") and msg.HasField("close")
    ):
        return "candle without prices"
    if not (high >= open_ and high >= close and low <= open_ and low <= close):
        return "candle high/low inconsistent"
    # tuple.__new__ is what Candle(...) ends in, minus a Python-level __new__ (a third of the cost).
    return _new_tuple(Candle, (time, open_, high, low, close, msg.volume, time < current, _STREAM))


_new_tuple = tuple.__new__
_STREAM = Origin.STREAM


def _quotation_reason(pairs: tuple[tuple[int, int], ...]) -> str:
    """The contract's wording for the first malformed (units, nano) pair (the slow, rare path)."""
    for units, nano in pairs:
        try:
            check_quotation(units, nano)
        except QuotationError as exc:
            return f"malformed quotation: {exc}"
    return "malformed quotation"


def historic_candle(msg: marketdata_pb2.HistoricCandle) -> Candle:
    """A GetCandles candle as a book value (BACKFILL origin; closed as the API says)."""
    return Candle(
        time=msg.time.seconds,
        open=quotation_to_float(msg.open),
        high=quotation_to_float(msg.high),
        low=quotation_to_float(msg.low),
        close=quotation_to_float(msg.close),
        volume=msg.volume,
        closed=msg.is_complete,
        origin=Origin.BACKFILL,
    )


_INTERVALS = {interval.value: interval for interval in Interval}


def interval_of(value: int) -> Interval | None:
    """The Interval of a SubscriptionInterval number, None for UNSPECIFIED or unknown."""
    # A dict lookup: Interval(value) goes through EnumMeta.__call__, slow on the receive loop.
    return _INTERVALS.get(value)


MAX_PRICE_AHEAD_S = 300.0
"""Newest plausible last-price time: clock skew only. The book keeps the newest price, so a price
stamped far ahead would freeze the quote until that time."""
_STATUSES = frozenset(common_pb2.SecurityTradingStatus.values())


def checked_last_price(msg: marketdata_pb2.LastPrice, now: float) -> tuple[str, float, float] | str:
    """(uid, price, time) of a LastPrice, or why it must be skipped (malformed or hostile)."""
    if not msg.HasField("price"):
        return "last price without price"
    units, nano = msg.price.units, msg.price.nano
    try:
        check_quotation(units, nano)
    except QuotationError as exc:
        return f"malformed last price: {exc}"
    if not msg.HasField("time"):
        return "last price without time"
    at = msg.time.seconds + msg.time.nanos / NANO
    # No bound into the past: an illiquid bond's last trade may be months old, and an old price
    # never replaces a newer one.
    if at > now + MAX_PRICE_AHEAD_S:
        return "last price time out of range"
    return msg.instrument_uid, units + nano / NANO, at


def checked_trading_status(msg: marketdata_pb2.TradingStatus) -> tuple[str, int] | str:
    """(uid, SecurityTradingStatus number) of a TradingStatus, or why it must be skipped.

    A number our contract does not list is skipped rather than guessed at: the panel keeps the
    phase it knew, and the skip is counted where the user sees it.
    """
    status = int(msg.trading_status)
    if status not in _STATUSES:
        return f"unknown trading status {status}"
    return msg.instrument_uid, status


_KINDS = {
    1: "bond",
    2: "share",
    3: "currency",
    4: "etf",
    5: "futures",
    6: "sp",
    7: "option",
    8: "clearing",
    9: "index",
    10: "commodity",
}


InstrumentRecord = (
    instruments_pb2.Instrument
    | instruments_pb2.Share
    | instruments_pb2.Etf
    | instruments_pb2.Bond
    | instruments_pb2.Future
    | instruments_pb2.Currency
)
"""A full instrument record: GetInstrumentBy's or a bulk listing's (they share these fields)."""


def instrument(msg: instruments_pb2.Instrument) -> Instrument:
    """A GetInstrumentBy record as a market Instrument (price step from min_price_increment)."""
    return record_instrument(msg, _KINDS.get(int(msg.instrument_kind), msg.instrument_type or "share"))


def record_instrument(record: InstrumentRecord, kind: str) -> Instrument:
    """A full record as a market Instrument of `kind` (the record types name it differently)."""
    return Instrument(
        uid=record.uid,
        figi=record.figi,
        ticker=record.ticker,
        class_code=record.class_code,
        name=record.name,
        lot=record.lot or 1,
        price_step=from_quotation(record.min_price_increment),
        kind=kind,
        currency=record.currency or "rub",
        # Absent or zero: the API does not know where the history starts.
        first_1min=record.first_1min_candle_date.seconds or None,
        first_1day=record.first_1day_candle_date.seconds or None,
    )


def short_instrument(msg: instruments_pb2.InstrumentShort) -> Instrument:
    """A FindInstrument hit as an Instrument (the short record has no price step: 0)."""
    kind = _KINDS.get(int(msg.instrument_kind), msg.instrument_type or "share")
    return Instrument(
        uid=msg.uid,
        figi=msg.figi,
        ticker=msg.ticker,
        class_code=msg.class_code,
        name=msg.name,
        lot=msg.lot or 1,
        price_step=Decimal(0),
        kind=kind,
    )

"""Protobuf messages to market values, and closed versus forming."""

from __future__ import annotations

from decimal import Decimal

from monitor.feed.convert import (
    checked_candle,
    checked_last_price,
    checked_trading_status,
    historic_candle,
    instrument,
)
from monitor.feed.instruments import InstrumentError, instrument_request
from monitor.market import Candle, Interval, Origin
from monitor.pb import common_pb2, instruments_pb2
from monitor.pb import marketdata_pb2 as md
from monitor.wire import seconds_to_timestamp, to_quotation

T0 = 1_764_000_000 - 1_764_000_000 % 3600  # an hour boundary


def _candle(time: int) -> md.Candle:
    return md.Candle(
        interval=md.SUBSCRIPTION_INTERVAL_ONE_MINUTE,
        open=to_quotation("179.05"),
        high=to_quotation("179.07"),
        low=to_quotation("178.95"),
        close=to_quotation("179.01"),
        volume=4279,
        time=seconds_to_timestamp(time),
        instrument_uid="u",
    )


def _stream(time: int, interval: Interval, now: float) -> Candle:
    candle = checked_candle(_candle(time), interval.start_of(int(now)), now)
    assert isinstance(candle, Candle)
    return candle


def test_stream_candle_of_the_current_period_is_forming() -> None:
    """The candle of the period that contains `now` is still forming."""
    candle = _stream(T0, Interval.M1, T0 + 30.5)
    assert not candle.closed
    assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (
        179.05,
        179.07,
        178.95,
        179.01,
        4279,
    )
    assert candle.origin is Origin.STREAM


def test_stream_candle_of_an_earlier_period_is_closed() -> None:
    """A final or correction candle arrives after its period: closed."""
    assert _stream(T0, Interval.M1, T0 + 60).closed
    assert _stream(T0, Interval.H1, T0 + 3600).closed
    assert not _stream(T0, Interval.H1, T0 + 3599).closed


def test_historic_candle_is_backfill() -> None:
    """GetCandles candles are marked BACKFILL and keep is_complete."""
    msg = md.HistoricCandle(
        open=to_quotation(1), close=to_quotation("2.5"), time=seconds_to_timestamp(T0), is_complete=True
    )
    candle = historic_candle(msg)
    assert candle.origin is Origin.BACKFILL
    assert candle.closed and candle.close == 2.5 and candle.time == T0


def test_last_price_keeps_fractional_time() -> None:
    """(uid, price, time) with nanos."""
    msg = md.LastPrice(instrument_uid="u", price=common_pb2.Quotation(units=178, nano=790000000))
    msg.time.CopyFrom(seconds_to_timestamp(T0 + 0.25))
    assert checked_last_price(msg, T0) == ("u", 178.79, T0 + 0.25)


def _price(units: int, nano: int, at: float | None) -> md.LastPrice:
    msg = md.LastPrice(instrument_uid="u", price=common_pb2.Quotation(units=units, nano=nano))
    if at is not None:
        msg.time.CopyFrom(seconds_to_timestamp(at))
    return msg


def test_last_price_that_makes_no_sense_is_refused_with_its_reason() -> None:
    """Missing price or time, a malformed quotation, a time ahead of any clock skew."""
    assert checked_last_price(md.LastPrice(instrument_uid="u"), T0) == "last price without price"
    assert checked_last_price(_price(1, 0, None), T0) == "last price without time"
    mixed = checked_last_price(_price(5, -1, T0), T0)
    assert isinstance(mixed, str) and mixed.startswith("malformed last price: units 5 and nano -1")
    assert str(checked_last_price(_price(5, 10**9, T0), T0)).startswith("malformed last price: nano")
    assert checked_last_price(_price(5, 0, T0 + 3600), T0) == "last price time out of range"


def test_last_price_may_be_old_and_slightly_ahead() -> None:
    """An illiquid bond's last trade can be months old; a few seconds ahead is clock skew."""
    assert checked_last_price(_price(99, 500_000_000, T0 - 200 * 86_400), T0) == (
        "u",
        99.5,
        T0 - 200 * 86_400,
    )
    assert checked_last_price(_price(-3, -250_000_000, T0 + 5), T0) == ("u", -3.25, T0 + 5)


def test_trading_status_outside_the_contract_is_refused() -> None:
    """Known numbers pass; a number the contract does not list is named in the reason."""
    ok = md.TradingStatus(
        instrument_uid="u", trading_status=common_pb2.SECURITY_TRADING_STATUS_NORMAL_TRADING
    )
    assert checked_trading_status(ok) == ("u", 5)
    unknown = md.TradingStatus.FromString(b"\x10\x63")  # field 2 (trading_status) = 99
    assert checked_trading_status(unknown) == "unknown trading status 99"


def test_instrument_from_get_instrument_by() -> None:
    """Lot and price step come from the record."""
    msg = instruments_pb2.Instrument(
        uid="e6123145-9665-43e0-8413-cd61b8aa9b13",
        figi="BBG004730N88",
        ticker="SBER",
        class_code="TQBR",
        name="Sberbank",
        lot=10,
        min_price_increment=to_quotation("0.01"),
        instrument_kind=common_pb2.INSTRUMENT_TYPE_SHARE,
        currency="rub",
    )
    inst = instrument(msg)
    assert (inst.lot, inst.price_step, inst.kind, inst.symbol) == (10, Decimal("0.01"), "share", "SBER_TQBR")


def test_instrument_request_shapes() -> None:
    """uid, FIGI and TICKER_CLASSCODE pick their id_type; anything else is refused."""
    uid = instrument_request("e6123145-9665-43e0-8413-cd61b8aa9b13")
    assert uid.id_type == instruments_pb2.INSTRUMENT_ID_TYPE_UID
    figi = instrument_request("BBG004730N88")
    assert (figi.id_type, figi.id) == (instruments_pb2.INSTRUMENT_ID_TYPE_FIGI, "BBG004730N88")
    ticker = instrument_request("SBER_TQBR")
    assert (ticker.id_type, ticker.id, ticker.class_code) == (
        instruments_pb2.INSTRUMENT_ID_TYPE_TICKER,
        "SBER",
        "TQBR",
    )
    try:
        instrument_request("SBER")
    except InstrumentError as exc:
        assert "TICKER_CLASSCODE" in exc.reason
    else:
        raise AssertionError("a bare ticker must be refused")

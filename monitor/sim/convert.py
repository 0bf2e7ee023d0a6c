"""Simulator values to wire messages: prices in ticks to Quotations, bars to candles, instruments."""

from __future__ import annotations

import uuid
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from monitor.market import Interval
from monitor.pb import common_pb2, instruments_pb2, marketdata_pb2
from monitor.sim.bars import Bar
from monitor.sim.catalogue import SimInstrument
from monitor.sim.market import price_parts
from monitor.wire import seconds_to_timestamp, to_quotation


def tracking_id() -> str:
    """A tracking id the way the real API writes it: 32 hex digits."""
    return uuid.uuid4().hex


def quotation(item: SimInstrument, ticks: int) -> common_pb2.Quotation:
    units, nano = price_parts(item, ticks)
    return common_pb2.Quotation(units=units, nano=nano)


def stream_candle(item: SimInstrument, interval: Interval, start: int, bar: Bar) -> marketdata_pb2.Candle:
    i = item.instrument
    return marketdata_pb2.Candle(
        figi=i.figi,
        interval=interval.value,  # type: ignore[arg-type]
        open=quotation(item, bar.open),
        high=quotation(item, bar.high),
        low=quotation(item, bar.low),
        close=quotation(item, bar.close),
        volume=bar.volume,
        time=Timestamp(seconds=start),
        last_trade_ts=seconds_to_timestamp(bar.last_trade),
        instrument_uid=i.uid,
        ticker=i.ticker,
        class_code=i.class_code,
        volume_buy=bar.volume_buy,
        volume_sell=bar.volume - bar.volume_buy,
        candle_source_type=marketdata_pb2.CANDLE_SOURCE_EXCHANGE,
    )


def historic_candle(
    item: SimInstrument, start: int, bar: Bar, complete: bool
) -> marketdata_pb2.HistoricCandle:
    return marketdata_pb2.HistoricCandle(
        open=quotation(item, bar.open),
        high=quotation(item, bar.high),
        low=quotation(item, bar.low),
        close=quotation(item, bar.close),
        volume=bar.volume,
        time=Timestamp(seconds=start),
        is_complete=complete,
        candle_source=marketdata_pb2.CANDLE_SOURCE_EXCHANGE,
        volume_buy=bar.volume_buy,
        volume_sell=bar.volume - bar.volume_buy,
    )


def last_price(item: SimInstrument, ticks: int, at: float) -> marketdata_pb2.LastPrice:
    i = item.instrument
    return marketdata_pb2.LastPrice(
        figi=i.figi,
        price=quotation(item, ticks),
        time=seconds_to_timestamp(at),
        ticker=i.ticker,
        class_code=i.class_code,
        instrument_uid=i.uid,
        last_price_type=marketdata_pb2.LAST_PRICE_EXCHANGE,
    )


def record_fields(item: SimInstrument, status: int) -> dict[str, Any]:
    """The fields every instrument record (Share, Bond, Etf, Future, Currency, Instrument) holds
    alike; each record adds its own (isin, exchange, dates, terms)."""
    i = item.instrument
    return {
        "figi": i.figi, "ticker": i.ticker, "class_code": i.class_code, "lot": i.lot, "currency": i.currency,
        "name": i.name, "trading_status": status, "min_price_increment": to_quotation(i.price_step),
        "api_trade_available_flag": item.api_tradable, "uid": i.uid,
        "first_1min_candle_date": seconds_to_timestamp(item.first_1min),
        "first_1day_candle_date": seconds_to_timestamp(item.first_1day),
    }  # fmt: skip


def share(item: SimInstrument, status: int) -> instruments_pb2.Share:
    return instruments_pb2.Share(
        **record_fields(item, status),
        isin=item.isin,
        exchange="MOEX",
        position_uid=item.position_uid,
    )


def instrument(item: SimInstrument, status: int) -> instruments_pb2.Instrument:
    return instruments_pb2.Instrument(
        **record_fields(item, status),
        isin=item.isin,
        exchange="MOEX",
        instrument_type=item.instrument.kind,
        instrument_kind=item.kind,  # type: ignore[arg-type]
    )


def instrument_short(item: SimInstrument) -> instruments_pb2.InstrumentShort:
    i = item.instrument
    return instruments_pb2.InstrumentShort(
        isin=item.isin, figi=i.figi, ticker=i.ticker, class_code=i.class_code, instrument_type=i.kind,
        name=i.name, uid=i.uid, position_uid=item.position_uid,
        instrument_kind=item.kind, api_trade_available_flag=item.api_tradable, lot=i.lot,  # type: ignore[arg-type]
        first_1min_candle_date=seconds_to_timestamp(item.first_1min),
        first_1day_candle_date=seconds_to_timestamp(item.first_1day),
    )  # fmt: skip

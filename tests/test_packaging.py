"""Packaging: generated code matches the protos, golden wire vectors, method paths and wire conversions."""

from __future__ import annotations

import importlib.util
import sys
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.pb import common_pb2, instruments_pb2, marketdata_pb2
from monitor.wire import NANO, QuotationError, from_quotation, quotation_to_decimal, to_quotation

REPO = Path(__file__).resolve().parent.parent
PREFIX = "/tinkoff.public.invest.api.contract.v1."
SBER_UID = "e6123145-9665-43e0-8413-cd61b8aa9b13"


def _generate_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("proto_generate", REPO / "proto" / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_code_has_not_drifted(tmp_path: Path) -> None:
    _generate_module().generate(tmp_path)
    committed = sorted(p.name for p in (REPO / "monitor" / "pb").iterdir() if "_pb2" in p.name)
    fresh = sorted(p.name for p in (tmp_path / "monitor" / "pb").iterdir() if "_pb2" in p.name)
    assert fresh == committed
    for name in committed:
        assert (tmp_path / "monitor" / "pb" / name).read_bytes() == (
            REPO / "monitor" / "pb" / name
        ).read_bytes(), f"monitor/pb/{name} differs from the protos: run python proto/generate.py"


def test_golden_wire_vectors() -> None:
    quotation = common_pb2.Quotation(units=-200, nano=-200000000)
    assert quotation.SerializeToString().hex() == "08b8feffffffffffffff011080fcd0a0ffffffffff01"
    request = marketdata_pb2.MarketDataRequest(
        subscribe_candles_request=marketdata_pb2.SubscribeCandlesRequest(
            subscription_action=marketdata_pb2.SUBSCRIPTION_ACTION_SUBSCRIBE,
            instruments=[
                marketdata_pb2.CandleInstrument(
                    interval=marketdata_pb2.SUBSCRIPTION_INTERVAL_ONE_MINUTE, instrument_id=SBER_UID
                )
            ],
            waiting_close=True,
        )
    )
    assert request.SerializeToString().hex() == (
        "0a2e0801122810011a2465363132333134352d393636352d343365302d383431332d6364363162386161396231331801"
    )
    assert (
        marketdata_pb2.MarketDataRequest.FromString(bytes.fromhex(request.SerializeToString().hex()))
        == request
    )


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _text(number: int, value: str | bytes) -> bytes:
    data = value.encode() if isinstance(value, str) else value
    return _tag(number, 2) + _varint(len(data)) + data


def _int(number: int, value: int) -> bytes:
    return _tag(number, 0) + _varint(value)


# Each listing record with the fields a monitor reads, encoded by hand from the field numbers of
# tinvest-contract.md §3.8 (figi, ticker, lot, trading_status, min_price_increment, uid, the first
# 1-minute candle date, a kind-specific field): the generated code must put each on that number.
_STEP = _int(2, 10_000_000)  # Quotation{nano = 2}: 0.01
_WHEN = _int(1, 1_520_380_800)  # Timestamp{seconds = 1}: 2018-03-07
_LISTING_RECORDS = {
    "Bond": (5, 31, 38, 40, 61, ("maturity_date", 18, _WHEN)),
    "Etf": (5, 25, 29, 31, 56, ("focus_type", 18, b"equity")),
    "Future": (4, 25, 29, 31, 56, ("basic_asset", 19, b"Si")),
    "Currency": (5, 20, 25, 27, 56, ("iso_currency_name", 24, b"cny")),
}


def test_golden_wire_vectors_of_the_listings() -> None:
    from google.protobuf.timestamp_pb2 import Timestamp

    assert common_pb2.Quotation(nano=10_000_000).SerializeToString() == _STEP
    assert Timestamp(seconds=1_520_380_800).SerializeToString() == _WHEN
    for name, (lot, status, step, uid, first, (extra, extra_number, extra_value)) in _LISTING_RECORDS.items():
        message = getattr(instruments_pb2, name)
        value: object = Timestamp(seconds=1_520_380_800) if extra_value is _WHEN else extra_value.decode()
        when, step_value = Timestamp(seconds=1_520_380_800), to_quotation("0.01")
        record = message(figi="F", ticker="T", lot=10, trading_status=5, min_price_increment=step_value,
                         uid="U", first_1min_candle_date=when, **{extra: value})  # fmt: skip
        fields = sorted([
            (1, _text(1, "F")), (2, _text(2, "T")), (lot, _int(lot, 10)), (status, _int(status, 5)),
            (step, _text(step, _STEP)), (uid, _text(uid, "U")), (first, _text(first, _WHEN)),
            (extra_number, _text(extra_number, extra_value)),
        ])  # fmt: skip
        assert record.SerializeToString().hex() == b"".join(f for _, f in fields).hex(), name
        response = getattr(instruments_pb2, {"Currency": "Currencies"}.get(name, name + "s") + "Response")
        assert response(instruments=[record]).SerializeToString() == _text(1, record.SerializeToString())
    request = instruments_pb2.InstrumentsRequest(
        instrument_status=common_pb2.INSTRUMENT_STATUS_ALL,
        instrument_exchange=instruments_pb2.INSTRUMENT_EXCHANGE_DEALER,
    )
    assert request.SerializeToString() == _int(1, 2) + _int(2, 1)
    unspecified = instruments_pb2.InstrumentsRequest(
        instrument_status=common_pb2.INSTRUMENT_STATUS_UNSPECIFIED
    )
    assert unspecified.SerializeToString() == _int(1, 0)  # optional: an explicit 0 is sent


def _methods(module: ModuleType, service: str) -> set[str]:
    descriptor = module.DESCRIPTOR.services_by_name[service]
    return {f"/{descriptor.full_name}/{method.name}" for method in descriptor.methods}


def test_method_paths() -> None:
    assert _methods(marketdata_pb2, "MarketDataStreamService") >= {
        PREFIX + "MarketDataStreamService/MarketDataStream",
        PREFIX + "MarketDataStreamService/MarketDataServerSideStream",
    }
    assert _methods(marketdata_pb2, "MarketDataService") >= {
        PREFIX + "MarketDataService/GetCandles",
        PREFIX + "MarketDataService/GetLastPrices",
    }
    assert _methods(instruments_pb2, "InstrumentsService") >= {
        PREFIX + "InstrumentsService/GetInstrumentBy",
        *(PREFIX + f"InstrumentsService/{m}" for m in ("Shares", "Bonds", "Etfs", "Futures", "Currencies")),
        PREFIX + "InstrumentsService/FindInstrument",
        PREFIX + "InstrumentsService/ShareBy",
    }
    stream = marketdata_pb2.DESCRIPTOR.services_by_name["MarketDataStreamService"].methods_by_name[
        "MarketDataStream"
    ]
    assert stream.client_streaming and stream.server_streaming


def _field(message: Any, name: str) -> int:
    number: int = message.DESCRIPTOR.fields_by_name[name].number
    return number


def test_field_numbers_and_enums_from_the_contract() -> None:
    request, response = marketdata_pb2.MarketDataRequest, marketdata_pb2.MarketDataResponse
    assert _field(request, "subscribe_candles_request") == 1
    assert _field(request, "ping") == 7
    assert _field(request, "ping_settings") == 15
    assert _field(response, "candle") == 5
    assert _field(response, "ping") == 9
    assert _field(response, "last_price") == 11
    assert _field(marketdata_pb2.SubscribeCandlesRequest, "candle_source_type") == 9
    assert _field(instruments_pb2.InstrumentRequest, "id_type") == 1
    assert _field(instruments_pb2.InstrumentRequest, "class_code") == 2
    assert _field(instruments_pb2.InstrumentRequest, "id") == 3
    assert _field(instruments_pb2.Instrument, "name") == 14
    assert _field(instruments_pb2.Instrument, "lot") == 5
    assert _field(instruments_pb2.Instrument, "uid") == 25
    assert instruments_pb2.INSTRUMENT_ID_TYPE_FIGI == 1
    assert instruments_pb2.INSTRUMENT_ID_TYPE_TICKER == 2
    assert instruments_pb2.INSTRUMENT_ID_TYPE_UID == 3
    assert marketdata_pb2.SUBSCRIPTION_INTERVAL_ONE_MINUTE == 1
    assert marketdata_pb2.SUBSCRIPTION_ACTION_SUBSCRIBE == 1
    oneof = request.DESCRIPTOR.oneofs_by_name["payload"]
    assert {f.name for f in oneof.fields} >= {"subscribe_candles_request", "ping", "ping_settings"}


decimals = st.decimals(
    min_value=-(2**31) + 1, max_value=2**31 - 1, places=9, allow_nan=False, allow_infinity=False
)


@given(decimals)
def test_quotation_round_trip_and_same_sign(value: Decimal) -> None:
    quotation = to_quotation(value)
    assert abs(quotation.nano) < NANO
    assert not (quotation.units > 0 and quotation.nano < 0) and not (
        quotation.units < 0 and quotation.nano > 0
    )
    assert from_quotation(quotation) == value
    assert from_quotation(common_pb2.Quotation.FromString(quotation.SerializeToString())) == value


@given(
    st.integers(min_value=-(2**63), max_value=2**63 - 1), st.integers(min_value=-(2**31), max_value=2**31 - 1)
)
def test_malformed_quotations_raise(units: int, nano: int) -> None:
    malformed = abs(nano) >= NANO or (units > 0 and nano < 0) or (units < 0 and nano > 0)
    if malformed:
        with pytest.raises(QuotationError):
            quotation_to_decimal(units, nano)
    else:
        assert quotation_to_decimal(units, nano) == Decimal(units) + Decimal(nano) / NANO


def test_shipped_data_is_package_data() -> None:
    text = (REPO / "pyproject.toml").read_text()
    assert '"**/*.toml"' in text  # monitor/default_watchlist.toml ships in the wheel
    assert (REPO / "monitor" / "default_watchlist.toml").is_file()
    assert sys.version_info >= (3, 11)

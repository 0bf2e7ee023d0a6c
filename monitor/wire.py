"""Conversions between wire types (Quotation, MoneyValue, Timestamp) and plain Python values."""

from __future__ import annotations

from decimal import Decimal

from google.protobuf.timestamp_pb2 import Timestamp

from monitor.pb.common_pb2 import Quotation

NANO = 1_000_000_000
_NANO_DECIMAL = Decimal(NANO)


class QuotationError(ValueError):
    """A Quotation breaks the contract: mixed signs or |nano| >= 1e9 (API error 30017)."""


def quotation_to_decimal(units: int, nano: int) -> Decimal:
    """Exact value of units + nano / 1e9; raises QuotationError on a malformed pair."""
    check_quotation(units, nano)
    return Decimal(units) + Decimal(nano) / _NANO_DECIMAL


def quotation_to_float(q: Quotation) -> float:
    """Fast value of a Quotation for the book and the renderers (no validation)."""
    return q.units + q.nano / NANO


def check_quotation(units: int, nano: int) -> None:
    """Raises QuotationError unless units and nano share a sign and |nano| < 1e9."""
    if not -NANO < nano < NANO:
        raise QuotationError(f"nano {nano} is outside (-1e9, 1e9)")
    if (units > 0 and nano < 0) or (units < 0 and nano > 0):
        raise QuotationError(f"units {units} and nano {nano} have different signs")


def decimal_to_parts(value: Decimal) -> tuple[int, int]:
    """Splits a Decimal into (units, nano) with the same sign; rounds below 1e-9 toward zero.

    Decimal's int() truncates toward zero, so -200.2 gives (-200, -200000000) as the contract
    requires; float floor division would give (-201, +800000000).
    """
    units = int(value)
    nano = int((value - units) * _NANO_DECIMAL)
    return units, nano


def to_quotation(value: Decimal | float | int | str) -> Quotation:
    """Builds a Quotation from a number (floats go through their shortest repr, not binary)."""
    decimal = value if isinstance(value, Decimal) else Decimal(str(value))
    units, nano = decimal_to_parts(decimal)
    return Quotation(units=units, nano=nano)


def from_quotation(q: Quotation) -> Decimal:
    """Exact Decimal value of a Quotation; raises QuotationError on a malformed one."""
    return quotation_to_decimal(q.units, q.nano)


def seconds_to_timestamp(seconds: float) -> Timestamp:
    """A Timestamp for UTC epoch seconds (fractions kept as nanos)."""
    whole = int(seconds // 1)
    return Timestamp(seconds=whole, nanos=round((seconds - whole) * NANO) % NANO)

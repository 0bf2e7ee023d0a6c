"""Prices at rest are exact: float -> nano-units -> the wire's (units, nano) and its Decimal, bit for bit."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from monitor.market import Candle, Instrument, Origin
from monitor.sim.catalogue import Catalogue
from monitor.sim.market import price_float, price_parts
from monitor.store.codec import (
    EXACT_BELOW,
    NANO,
    candle_row,
    from_nano,
    instrument_row,
    nano_decimal,
    nano_text,
    row_candle,
    row_instrument,
    to_nano,
)
from monitor.wire import quotation_to_decimal

ITEMS = Catalogue().items


def test_every_simulated_price_round_trips_exactly() -> None:
    """For each catalogue instrument, prices from a fifth to five times its base level, one step apart
    near the base and spread out beyond: nano-units equal the wire's, and back to the same float."""
    for item in ITEMS:
        base = item.base_ticks
        near = range(max(1, base - 500), base + 500)
        ticks = {*near, *range(max(1, base // 5), base * 5, max(1, base // 50))}
        for tick in ticks:
            units, nano = price_parts(item, tick)
            price = price_float(item, tick)
            exact = units * NANO + nano
            assert to_nano(price) == exact
            assert from_nano(exact) == price  # the same float the feed computes from the Quotation
            assert Decimal(nano_text(exact)) == quotation_to_decimal(units, nano)


@given(
    st.integers(min_value=-int(EXACT_BELOW) + 1, max_value=int(EXACT_BELOW) - 1),
    st.integers(min_value=0, max_value=NANO - 1),
)
def test_any_quotation_below_the_exact_bound_round_trips(units: int, magnitude: int) -> None:
    nano = -magnitude if units < 0 else magnitude  # the contract: units and nano share a sign
    price = units + nano / NANO  # how the feed turns a Quotation into a float
    exact = units * NANO + nano
    assert to_nano(price) == exact
    assert from_nano(exact) == price
    assert nano_decimal(exact) == quotation_to_decimal(units, nano)
    assert Decimal(nano_text(exact)) == quotation_to_decimal(units, nano)


def test_nano_text_is_plain_decimal_notation_without_noise() -> None:
    assert nano_text(314_150_000_000) == "314.15"
    assert nano_text(5) == "0.000000005"
    assert nano_text(-200_200_000_000) == "-200.2"
    assert nano_text(7 * NANO) == "7"
    assert nano_text(0) == "0"


def test_candle_rows_keep_time_volume_and_source() -> None:
    for origin in Origin:
        candle = Candle(6000, 0.1, 0.3, 0.01, 0.2, 12, True, origin)
        assert row_candle(candle_row(candle)) == candle


def test_instrument_rows_keep_the_price_step_exact() -> None:
    instrument = Instrument("u", "F", "T", "TQBR", "Name", 1, Decimal("0.0005"), "bond", "usd")
    assert row_instrument(instrument_row(instrument)) == instrument

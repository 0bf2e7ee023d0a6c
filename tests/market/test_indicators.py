"""Indicator specs (parsing, canonical spelling, errors) and each computation on hand-checked series."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from fractions import Fraction

import pytest

from monitor.market import Candle, CandleSeries, Interval, SeriesKey
from monitor.market.indicators import (
    IndicatorBook,
    IndicatorSpec,
    IndicatorSpecError,
    default_spec,
    parse_indicator,
)

KEY = SeriesKey("uid", Interval.M1)


def series_of(closes: list[float], start: int = 600, step: int = 60) -> CandleSeries:
    series = CandleSeries(KEY, capacity=10_000)
    for i, close in enumerate(closes):
        series.upsert(Candle(start + i * step, close, close, close, close, 1, True))
    return series


def lines(spec: str, closes: list[float]) -> dict[str, list[float | None]]:
    values = IndicatorBook().values(series_of(closes), parse_indicator(spec))
    return {name: list(line) for name, line in values.lines.items()}


def assert_line(got: list[float | None], expected: list[Fraction | float | None]) -> None:
    assert len(got) == len(expected)
    for value, want in zip(got, expected, strict=True):
        if want is None:
            assert value is None
        else:
            assert value is not None and math.isclose(value, float(want), rel_tol=1e-12, abs_tol=1e-12)


# ------------------------------------------------------------------ specs


@pytest.mark.parametrize(
    ("text", "kind", "params", "canonical", "label"),
    [
        ("sma 20", "sma", (20.0,), "sma 20", "SMA 20"),
        ("EMA 50", "ema", (50.0,), "ema 50", "EMA 50"),
        ("bb 20 2", "bb", (20.0, 2.0), "bb 20 2", "BB 20 2"),
        ("bb 20 2.5", "bb", (20.0, 2.5), "bb 20 2.5", "BB 20 2.5"),
        ("vwap", "vwap", (), "vwap", "VWAP"),
        ("rsi 14", "rsi", (14.0,), "rsi 14", "RSI 14"),
        ("macd 12 26 9", "macd", (12.0, 26.0, 9.0), "macd 12 26 9", "MACD 12 26 9"),
        ("  sma   7 ", "sma", (7.0,), "sma 7", "SMA 7"),
    ],
)
def test_a_spec_parses_to_its_kind_params_spelling_and_label(
    text: str, kind: str, params: tuple[float, ...], canonical: str, label: str
) -> None:
    spec = parse_indicator(text)
    assert (spec.kind, spec.params, str(spec), spec.label) == (kind, params, canonical, label)
    assert parse_indicator(str(spec)) == spec


@pytest.mark.parametrize(
    ("text", "same_as"),
    [
        ("rsi", "rsi 14"),
        ("macd", "macd 12 26 9"),
        ("bb", "bb 20 2"),
        ("bb 10", "bb 10 2"),
        ("macd 5 35", "macd 5 35 9"),
    ],
)
def test_omitted_parameters_take_their_defaults(text: str, same_as: str) -> None:
    assert parse_indicator(text) == parse_indicator(same_as)
    assert str(parse_indicator(text)) == same_as


def test_only_rsi_and_macd_go_to_the_pane() -> None:
    assert {kind for kind in ("sma", "ema", "bb", "vwap", "rsi", "macd") if default_spec(kind).pane} == {
        "rsi",
        "macd",
    }


def test_a_spec_is_frozen_and_hashable() -> None:
    spec = parse_indicator("sma 20")
    assert {spec: 1}[IndicatorSpec("sma", (20.0,))] == 1
    with pytest.raises(AttributeError):
        spec.kind = "ema"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("sma -3", "sma: N must be a whole number of candles from 1 to 1000, got '-3'"),
        ("sma x", "sma: N must be a whole number of candles from 1 to 1000, got 'x'"),
        ("sma 0", "from 1 to 1000, got '0'"),
        ("sma 1001", "from 1 to 1000, got '1001'"),
        ("sma 2.5", "whole number"),
        ("foo 2", "unknown indicator 'foo'; expected one of: sma N, ema N, bb N K, vwap, rsi N"),
        ("", "empty indicator"),
        ("vwap 3", "vwap takes at most 0 parameters (vwap), got 1"),
        ("sma 20 30", "sma takes at most 1 parameter (sma N), got 2"),
        ("bb 20 0", "bb: K (the band width in standard deviations) must be a number above 0"),
        ("bb 20 nan", "must be a number above 0"),
        ("bb 20 inf", "must be a number above 0"),
        ("bb 20 -1", "got '-1'"),
        ("macd 26 12 9", "macd: FAST (26) must be less than SLOW (12)"),
        ("macd 12 12", "FAST (12) must be less than SLOW (12)"),
    ],
)
def test_a_bad_spec_says_what_is_wrong_and_what_is_allowed(text: str, says: str) -> None:
    with pytest.raises(IndicatorSpecError) as caught:
        parse_indicator(text)
    assert says in str(caught.value)
    assert isinstance(caught.value, ValueError)


# ------------------------------------------------------------------ computations, by hand


def test_sma() -> None:
    # SMA 3 of 1 2 3 4 8: (1+2+3)/3 = 2, (2+3+4)/3 = 3, (3+4+8)/3 = 5
    assert_line(lines("sma 3", [1, 2, 3, 4, 8])["sma"], [None, None, 2, 3, 5])


def test_sma_of_one_is_the_close() -> None:
    assert_line(lines("sma 1", [5, 7])["sma"], [5, 7])


def test_ema_is_seeded_with_the_sma_of_the_first_n() -> None:
    # EMA 3, α = 2/4 = 0.5, of 2 4 6 8 3: seed (2+4+6)/3 = 4; 4 + .5·(8-4) = 6; 6 + .5·(3-6) = 4.5
    assert_line(lines("ema 3", [2, 4, 6, 8, 3])["ema"], [None, None, 4, 6, 4.5])


def test_bollinger_uses_the_population_deviation() -> None:
    # BB 3 2 of 1 2 3 4 8:
    #   i=2 window 1 2 3: mean 2, deviations² 1 0 1, variance 2/3
    #   i=3 window 2 3 4: mean 3, variance 2/3
    #   i=4 window 3 4 8: mean 5, deviations² 4 1 9, variance 14/3
    got = lines("bb 3 2", [1, 2, 3, 4, 8])
    sd = [None, None, math.sqrt(2 / 3), math.sqrt(2 / 3), math.sqrt(14 / 3)]
    mean: list[float | None] = [None, None, 2, 3, 5]
    assert_line(got["middle"], list(mean))
    assert_line(got["upper"], [None if m is None else m + 2 * s for m, s in zip(mean, sd, strict=True)])  # type: ignore[operator]
    assert_line(got["lower"], [None if m is None else m - 2 * s for m, s in zip(mean, sd, strict=True)])  # type: ignore[operator]


def test_rsi_uses_wilder_smoothing() -> None:
    # RSI 3 of 10 11 10 12 13: changes +1 -1 +2 +1
    #   i=3: gain (1+0+2)/3 = 1, loss (0+1+0)/3 = 1/3, RS 3, RSI 100 - 100/4 = 75
    #   i=4: gain (1·2 + 1)/3 = 1, loss (1/3·2 + 0)/3 = 2/9, RS 4.5, RSI 100 - 100/5.5
    assert_line(lines("rsi 3", [10, 11, 10, 12, 13])["rsi"], [None, None, None, 75, 100 - 100 / 5.5])


def test_rsi_without_losses_is_100_and_without_moves_50() -> None:
    assert lines("rsi 2", [1, 2, 3])["rsi"][2] == 100
    assert lines("rsi 2", [4, 4, 4])["rsi"][2] == 50


def test_macd_signal_and_histogram() -> None:
    # MACD 2 3 2 of 1 2 3 5 4 6. EMA 2 (α 2/3): 3/2, 5/2, 25/6, 73/18, 289/54 from i=1.
    # EMA 3 (α 1/2): 2, 7/2, 15/4, 39/8 from i=2. MACD = difference from i=2: 1/2, 2/3, 11/36, 103/216.
    # Signal, EMA 2 of MACD seeded at i=3 with (1/2 + 2/3)/2 = 7/12; then 7/12 + 2/3·(11/36 - 7/12) =
    # 43/108; then 43/108 + 2/3·(103/216 - 43/108) = 73/162. Hist = MACD - signal.
    got = lines("macd 2 3 2", [1, 2, 3, 5, 4, 6])
    f = Fraction
    macd = [None, None, f(1, 2), f(2, 3), f(11, 36), f(103, 216)]
    signal = [None, None, None, f(7, 12), f(43, 108), f(73, 162)]
    assert_line(got["macd"], list(macd))
    assert_line(got["signal"], list(signal))
    assert_line(got["hist"], [None, None, None, f(1, 12), f(-5, 54), f(17, 648)])


def utc(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def test_vwap_restarts_at_the_moscow_day() -> None:
    # 20:58 and 20:59 UTC are 23:58 and 23:59 in Moscow; 21:00 UTC starts the next exchange day.
    series = CandleSeries(KEY)
    series.upsert(Candle(utc("2026-03-02T20:58:00"), 10, 12, 9, 12, 2, True))  # typical 11
    series.upsert(Candle(utc("2026-03-02T20:59:00"), 12, 14, 11, 14, 6, True))  # typical 13
    series.upsert(Candle(utc("2026-03-02T21:00:00"), 20, 21, 19, 20, 1, False))  # typical 20, new day
    series.upsert(Candle(utc("2026-03-02T21:01:00"), 20, 23, 20, 23, 3, False))  # typical 22
    got = IndicatorBook().values(series, parse_indicator("vwap")).lines["vwap"]
    # (11·2) / 2 = 11; (22 + 13·6) / 8 = 12.5; reset: 20; (20 + 22·3) / 4 = 21.5
    assert_line(list(got), [11, 12.5, 20, 21.5])


def test_vwap_is_none_until_the_session_trades() -> None:
    series = CandleSeries(KEY)
    series.upsert(Candle(utc("2026-03-03T07:00:00"), 10, 10, 10, 10, 0, True))
    series.upsert(Candle(utc("2026-03-03T07:01:00"), 10, 13, 10, 13, 5, True))  # typical 12
    assert_line(list(IndicatorBook().values(series, parse_indicator("vwap")).lines["vwap"]), [None, 12])


def test_values_at_an_index_name_every_line() -> None:
    values = IndicatorBook().values(series_of([1, 2, 3, 4, 8]), parse_indicator("bb 3 2"))
    at = values.at(2)
    assert set(at) == {"upper", "middle", "lower"} and at["middle"] == 2
    assert values.at(99) == {"upper": None, "middle": None, "lower": None}
    assert values.at(0)["upper"] is None


def test_lines_are_named_as_the_renderer_reads_them() -> None:
    book, series = IndicatorBook(), series_of([1.0] * 40)
    names = {
        kind: set(book.values(series, default_spec(kind)).lines) for kind in ("sma", "ema", "vwap", "rsi")
    }
    assert names == {"sma": {"sma"}, "ema": {"ema"}, "vwap": {"vwap"}, "rsi": {"rsi"}}
    assert set(book.values(series, default_spec("macd")).lines) == {"macd", "signal", "hist"}


def test_the_forming_candle_counts_and_moves_the_value() -> None:
    book, series = IndicatorBook(), series_of([1, 2, 3])  # closed candles at 600, 660, 720
    spec = parse_indicator("sma 3")
    assert book.values(series, spec).lines["sma"][-1] == 2
    for close, volume in ((9, 5), (12, 8)):  # the forming candle at 780 trades at 9, then at 12
        forming = Candle(780, 9, close, 9, close, volume, False)
        assert series.upsert(forming)
        book.on_candle(KEY, forming)
        assert book.values(series, spec).lines["sma"][-1] == pytest.approx((2 + 3 + close) / 3)

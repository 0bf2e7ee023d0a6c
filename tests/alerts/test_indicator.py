"""The engine's indicator over an IndicatorBook: the SMA/EMA at a candle, as computed from scratch."""

from __future__ import annotations

import math

import pytest

from monitor.alerts import AlertEngine, AlertFired, make_rule
from monitor.alerts.indicator import book_indicator
from monitor.market import Candle, CandleSeries, Interval, SeriesKey
from monitor.market.indicators import IndicatorBook
from tests.alerts.kit import SBER, SBER_KEY, T0, Rig, candle, naive


def series_of(closes: list[float]) -> CandleSeries:
    series = CandleSeries(SBER_KEY)
    for i, close in enumerate(closes):
        series.upsert(candle(i, close))
    return series


def test_sma_and_ema_at_a_candle_match_a_computation_from_scratch() -> None:
    closes = [100 + 7 * math.sin(i / 3) + i * 0.1 for i in range(300)]
    series = series_of(closes)
    indicator = book_indicator(IndicatorBook())
    for i in (4, 5, 50, 299):
        at = T0 + 60 * i
        expected = naive(series, "sma", 5, at)
        assert expected is not None and indicator(series, "sma", 5, at) == pytest.approx(expected, abs=1e-9)
    # EMAs seeded differently agree once the seed has decayed.
    late = T0 + 60 * 299
    expected = naive(series, "ema", 10, late)
    assert expected is not None and indicator(series, "ema", 10, late) == pytest.approx(expected, abs=1e-6)


def test_too_few_candles_or_a_time_not_in_the_series_give_none() -> None:
    series = series_of([100.0, 101.0, 102.0])
    indicator = book_indicator(IndicatorBook())
    assert indicator(series, "sma", 5, T0 + 120) is None
    assert indicator(series, "sma", 2, T0 + 90) is None  # no candle starts then
    assert indicator(series, "sma", 2, T0 + 60 * 10) is None


def test_a_close_above_sma_rule_fires_through_the_book() -> None:
    rule = make_rule(SBER, "close above sma 3", Interval.M1)
    rig = Rig()  # its feed, with an engine of our own: the book's, as the TUI builds it
    book = IndicatorBook()
    rig.feed.add_candle_listener(book.on_candle)
    engine = AlertEngine([rule], indicator=book_indicator(book))
    engine.attach(rig.feed)
    fired: list[AlertFired] = []
    engine.add_listener(fired.append)
    rig.closes(100, 100, 100, 99, 98)  # below the average: the baseline
    assert fired == []
    rig.closes(110, start=5)
    assert [f.value for f in fired] == [110]


def test_an_engine_given_the_book_to_feed_feeds_it_before_its_rules() -> None:
    # `monitor stream` has no chart feeding a book: the engine does (feeds=), before it evaluates.
    rule = make_rule(SBER, "close above sma 3", Interval.M1)
    rig = Rig()
    seen: list[int] = []

    class Watched(IndicatorBook):
        def on_candle(self, key: SeriesKey, candle: Candle) -> None:
            seen.append(candle.time)
            super().on_candle(key, candle)

    book = Watched()
    engine = AlertEngine([rule], indicator=book_indicator(book), feeds=book)
    engine.attach(rig.feed)
    fired: list[AlertFired] = []
    engine.add_listener(fired.append)
    rig.closes(100, 100, 100, 99, 98)
    rig.closes(110, start=5)
    assert [f.value for f in fired] == [110]
    assert T0 + 5 * 60 in seen  # the book was told of the candle the rule fired on

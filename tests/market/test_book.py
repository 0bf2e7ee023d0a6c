"""The candle book: upsert by start time, forming vs closed, bounds, gaps and versions."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from monitor.market import Candle, CandleBook, CandleSeries, Interval, Origin, RangeSet, SeriesKey

KEY = SeriesKey("uid", Interval.M1)


def candle(time: int, close: float = 100.0, closed: bool = True, volume: int = 1) -> Candle:
    return Candle(time, close, close + 1, close - 1, close, volume, closed)


def test_upsert_appends_in_order_and_bumps_the_version() -> None:
    series = CandleSeries(KEY)
    assert series.upsert(candle(60)) and series.upsert(candle(120))
    assert [c.time for c in series] == [60, 120]
    assert series.version == 2


def test_a_correction_overwrites_instead_of_duplicating() -> None:
    series = CandleSeries(KEY)
    series.upsert(candle(60, close=100))
    series.upsert(candle(60, close=101, volume=7))
    assert len(series) == 1
    assert series.get(60) == candle(60, close=101, volume=7)


def test_a_stale_update_with_less_volume_is_ignored() -> None:
    series = CandleSeries(KEY)
    series.upsert(candle(60, close=101, volume=900))  # the final candle, e.g. from a backfill
    assert not series.upsert(candle(60, close=100, volume=300))  # a forming state that came late
    assert series.get(60) == candle(60, close=101, volume=900)


def test_identical_candle_is_not_a_change() -> None:
    series = CandleSeries(KEY)
    series.upsert(candle(60))
    assert not series.upsert(candle(60))
    assert series.version == 1


def test_a_late_forming_update_never_reopens_a_closed_period() -> None:
    series = CandleSeries(KEY)
    series.upsert(candle(60, closed=True))
    assert not series.upsert(candle(60, close=90, closed=False))
    assert series.get(60) == candle(60, closed=True)


def test_a_new_period_never_closes_the_forming_candle_by_itself() -> None:
    """Closing is the feed's decision on the server's word; the book only stores it."""
    series = CandleSeries(KEY)
    series.upsert(candle(60, closed=False))
    series.upsert(candle(120, closed=False))
    assert series.get(60) == candle(60, closed=False)
    assert series.last_closed_time() is None


def test_close_marks_one_period_closed_once() -> None:
    series = CandleSeries(KEY)
    series.upsert(candle(60, closed=False))
    version = series.version
    closed = series.close(60)
    assert closed == candle(60, closed=True) and series.get(60) == closed
    assert series.version == version + 1
    assert series.close(60) is None and series.close(999) is None
    assert series.version == version + 1


def test_unconfirmed_before_finds_the_oldest_forming_period_that_is_over() -> None:
    series = CandleSeries(KEY)
    series.upsert(candle(60, closed=True))
    series.upsert(candle(120, closed=False))
    series.upsert(candle(180, closed=False))
    series.upsert(candle(240, closed=False))
    assert series.unconfirmed_before(240) == 120
    assert series.unconfirmed_before(120) is None
    series.close(180)  # a reconnect: the old stream's period stays forming below a closed one
    assert series.unconfirmed_before(240) == 120
    series.close(120)
    assert series.unconfirmed_before(240) is None
    assert CandleSeries(KEY).unconfirmed_before(10**9) is None
    deep = CandleSeries(KEY)
    for t in range(0, 6000, 60):
        deep.upsert(candle(t, closed=t > 0))
    assert deep.unconfirmed_before(6000, depth=10) is None  # older than the depth: the gap fill's
    assert deep.unconfirmed_before(6000, depth=100) == 0


def test_backfill_inserts_older_candles_in_place() -> None:
    series = CandleSeries(KEY)
    series.upsert(candle(60))
    series.upsert(candle(240))
    series.upsert(Candle(120, 1, 1, 1, 1, 1, True, Origin.BACKFILL))
    assert [c.time for c in series] == [60, 120, 240]


def test_series_stay_bounded() -> None:
    series = CandleSeries(KEY, capacity=100)
    for n in range(10_000):
        series.upsert(candle(n * 60))
    assert 100 <= len(series) <= 100 + 100 // 8 + 16
    assert series.newest == candle(9_999 * 60)
    assert [c.time for c in series.last(3)] == [9_997 * 60, 9_998 * 60, 9_999 * 60]


def test_gaps_close_when_backfilled() -> None:
    series = CandleSeries(KEY)
    series.mark_gap(60, 600)
    assert series.gaps == [(60, 600)]
    series.mark_backfilled(60, 300)
    assert series.gaps == [(300, 600)] and series.backfilled == [(60, 300)]


def test_book_prices_keep_the_newest() -> None:
    book = CandleBook()
    book.set_price("u", 10.0, time=100)
    book.set_price("u", 9.0, time=50)
    assert book.quotes["u"].price == 10.0
    book.set_session_open("u", 8.0)
    assert book.quotes["u"].change == 10.0 / 8.0 - 1


def test_book_version_tracks_changes() -> None:
    book = CandleBook()
    assert book.upsert(KEY, candle(60))
    assert not book.upsert(KEY, candle(60))
    assert book.version == 1
    assert book.find(SeriesKey("other", Interval.M1)) is None


@given(st.lists(st.tuples(st.integers(0, 50), st.floats(1, 1000), st.booleans()), max_size=200))
def test_any_order_of_upserts_gives_one_sorted_candle_per_period(
    updates: list[tuple[int, float, bool]],
) -> None:
    series = CandleSeries(KEY, capacity=1000)
    for slot, price, closed in updates:
        series.upsert(candle(slot * 60, price, closed))
    times = [c.time for c in series]
    assert times == sorted(set(times))
    assert set(times) == {slot * 60 for slot, _, _ in updates}


def test_range_set_merges_and_splits() -> None:
    ranges = RangeSet([(0, 10), (20, 30)])
    ranges.add(10, 20)
    assert ranges == [(0, 30)]
    ranges.remove(5, 25)
    assert ranges == [(0, 5), (25, 30)]
    assert any(lo <= 27 < hi for lo, hi in ranges) and not any(lo <= 10 < hi for lo, hi in ranges)

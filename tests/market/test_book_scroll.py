"""CandleSeries for scroll-back: index_of, window, and trimming on the side away from the anchor."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from monitor.market import Candle, CandleSeries, Interval, SeriesKey
from monitor.market.book import DEFAULT_CAPACITY, LIVE_TAIL

KEY = SeriesKey("uid", Interval.M1)
CAP = 1_000
SLACK = max(16, CAP // 8)
"""CandleSeries trims in batches: a series holds at most capacity + this."""


def candle(time: int, closed: bool = True) -> Candle:
    return Candle(time, 10.0, 11.0, 9.0, 10.5, 5, closed)


def series_of(times: range, capacity: int = CAP, forming_last: bool = False) -> CandleSeries:
    series = CandleSeries(KEY, capacity)
    for t in times:
        series.upsert(candle(t, closed=not (forming_last and t == times[-1])))
    return series


def times(series: CandleSeries) -> list[int]:
    return [c.time for c in series]


def test_the_default_capacity_is_the_settings_default() -> None:
    from monitor.settings import FeedSettings

    assert CandleSeries(KEY).capacity == DEFAULT_CAPACITY == FeedSettings().max_candles == 50_000


def test_index_of_bisects_to_the_first_candle_at_or_after_a_time() -> None:
    series = series_of(range(60, 600, 60))
    assert series.index_of(60) == 0
    assert series.index_of(120) == 1
    assert series.index_of(121) == 2  # between candles: the next one
    assert series.index_of(0) == 0
    assert series.index_of(10_000) == len(series)


def test_window_is_the_slice_of_the_candles_in_order() -> None:
    series = series_of(range(60, 6000, 60))
    every = list(series)
    assert series.window(3, 10) == every[3:10]
    assert series.window(0, len(series)) == every
    assert series.window(90, 1_000) == every[90:]
    assert series.window(5, 5) == []


def test_moving_the_anchor_changes_no_data_and_not_the_version() -> None:
    series = series_of(range(60, 600, 60))
    version = series.version
    series.anchor = 120
    series.anchor = None
    assert series.version == version


def test_without_an_anchor_the_oldest_are_trimmed() -> None:
    series = series_of(range(0, 60 * 3 * CAP, 60))
    assert CAP <= len(series) <= CAP + SLACK
    assert series.newest == candle(60 * (3 * CAP - 1))
    assert not series.trimmed


def test_a_full_series_at_the_live_edge_refuses_older_candles_but_one_looking_back_takes_them() -> None:
    series = series_of(range(60 * 10_000, 60 * (10_000 + CAP), 60))
    assert not series.upsert(candle(60))
    series.anchor = series.oldest.time if series.oldest else None
    assert series.upsert(candle(60))
    assert series.oldest == candle(60)


def test_scrolling_far_back_trims_the_newer_side_but_keeps_the_live_tail() -> None:
    live = range(60 * 100_000, 60 * (100_000 + CAP), 60)
    series = series_of(live, forming_last=True)
    forming = series.newest
    # The user looks at the oldest candle and loads older pages: the series overflows.
    for page in range(3):
        oldest = series.oldest
        assert oldest is not None
        series.anchor = oldest.time
        for t in range(oldest.time - 500 * 60, oldest.time, 60):
            series.upsert(candle(t))
        assert len(series) <= CAP + SLACK, page
    anchor = series.anchor
    assert anchor is not None and series.get(anchor) is not None  # what the user looks at stays
    assert series.newest == forming  # the forming candle is never trimmed
    assert series.oldest is not None and series.oldest.time < live[0] - 1000 * 60  # older pages stayed
    kept_live = [t for t in times(series) if t >= live[0]]
    assert kept_live[-LIVE_TAIL:] == list(live[-LIVE_TAIL:])
    # The dropped newer span is a hole the feed fetches again, not a gap of the market.
    assert not series.gaps
    holes = list(series.trimmed)
    assert len(holes) == 1
    hole_start, hole_end = holes[0]
    assert hole_end == live[-LIVE_TAIL]
    assert all(series.get(t) is None for t in range(hole_start, hole_end, 60))


def test_a_streamed_candle_while_looking_back_still_arrives_at_the_live_edge() -> None:
    series = series_of(range(0, 60 * (CAP + SLACK), 60))
    series.anchor = 60 * 5
    for t in range(60 * (CAP + SLACK), 60 * (CAP + SLACK + 50), 60):
        assert series.upsert(candle(t, closed=False), received_at=1.0)
        assert series.newest == candle(t, closed=False)
        assert series.get(60 * 5) is not None


def test_an_anchor_in_the_middle_trims_the_oldest_down_to_a_quarter_before_it() -> None:
    series = series_of(range(0, 60 * CAP, 60))
    anchor = 60 * (CAP // 2)
    series.anchor = anchor
    for t in range(60 * CAP, 60 * (CAP + SLACK + 1), 60):
        series.upsert(candle(t))
    before = series.index_of(anchor)
    assert before >= CAP // 4
    assert not series.trimmed  # the old side had enough to give
    assert len(series) == CAP


def test_refilling_a_trimmed_span_closes_the_hole_and_moves_the_version() -> None:
    series = series_of(range(60 * 10_000, 60 * (10_000 + CAP), 60))
    oldest = series.oldest
    assert oldest is not None
    series.anchor = oldest.time
    for t in range(oldest.time - 400 * 60, oldest.time, 60):
        series.upsert(candle(t))
    (start, end), *_ = list(series.trimmed)
    series.anchor = None
    for t in range(start, end, 60):
        series.upsert(candle(t))
    version = series.version
    series.mark_refilled(start, end)
    assert not series.trimmed and series.version == version + 1
    assert times(series) == sorted(set(times(series)))
    assert times(series)[-1] - times(series)[0] == 60 * (len(series) - 1)  # contiguous again


def test_trimming_forgets_holes_and_marks_it_drops_on_the_old_side() -> None:
    series = series_of(range(0, 60 * CAP, 60))
    series.mark_gap(0, 600)
    series.mark_backfilled(600, 1200)
    for t in range(60 * CAP, 60 * (CAP + SLACK + 1), 60):
        series.upsert(candle(t))
    oldest = series.oldest
    assert oldest is not None and oldest.time > 1200
    assert not series.gaps and not series.backfilled


@given(
    st.lists(st.tuples(st.integers(0, 4_000), st.one_of(st.none(), st.integers(0, 4_000))), max_size=600),
)
def test_any_upserts_under_any_anchor_stay_bounded_sorted_and_keep_the_newest(
    steps: list[tuple[int, int | None]],
) -> None:
    capacity = 100
    series = CandleSeries(KEY, capacity)
    for minute, anchor in steps:
        series.anchor = None if anchor is None else anchor * 60
        newest = series.newest
        series.upsert(candle(minute * 60))
        held = times(series)
        assert held == sorted(set(held))
        assert len(series) <= capacity + max(16, capacity // 8)
        if newest is not None and minute * 60 < newest.time:
            assert series.newest == newest  # an older candle never pushes out the newest


def test_merging_a_page_of_history_inserts_it_in_order_and_reports_what_changed() -> None:
    series = series_of(range(60 * 1_000, 60 * 1_100, 60))
    version = series.version
    page = [candle(t) for t in range(60 * 500, 60 * 1_001, 60)]  # repeats the oldest held (the seam)
    changed = series.merge_history(page)
    assert changed == page[:-1]  # the repeated boundary candle is no change
    assert times(series) == list(range(60 * 500, 60 * 1_100, 60))
    assert series.version == version + 1


def test_merging_history_replaces_held_periods_as_upsert_does() -> None:
    series = series_of(range(0, 600, 60))
    grown = Candle(120, 10.0, 12.0, 8.0, 11.0, 50, True)
    stale = Candle(180, 10.0, 12.0, 8.0, 11.0, 1, True)  # less volume than held: stale
    assert series.merge_history([stale, grown]) == [grown]
    assert series.get(120) == grown and series.get(180) == candle(180)


def test_a_full_series_at_the_live_edge_merges_no_older_history_but_one_looking_back_does() -> None:
    series = series_of(range(60 * 10_000, 60 * (10_000 + CAP), 60))
    page = [candle(t) for t in range(0, 600, 60)]
    assert series.merge_history(page) == []
    series.anchor = 60 * 10_000
    assert series.merge_history(page) == page
    assert series.oldest == page[0]


@given(
    st.lists(st.integers(0, 3_000), max_size=300),
    st.lists(st.tuples(st.integers(0, 3_000), st.integers(1, 9)), max_size=300),
)
def test_merging_history_holds_what_upserting_it_one_by_one_holds(
    held: list[int], batch: list[tuple[int, int]]
) -> None:
    merged, upserted = CandleSeries(KEY), CandleSeries(KEY)
    for series in (merged, upserted):
        for t in held:
            series.upsert(candle(t * 60))
    page = [Candle(t * 60, 10.0, 11.0, 9.0, 10.5, volume, True) for t, volume in batch]
    changed = merged.merge_history(page)
    heard = [c for c in page if upserted.upsert(c)]
    assert list(merged) == list(upserted)
    # The same periods reported changed, each with the value it holds now, oldest first.
    assert {c.time for c in changed} == {c.time for c in heard}
    assert [c.time for c in changed] == sorted(c.time for c in changed)

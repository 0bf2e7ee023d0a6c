"""The caches behind zoomed-out frames answer exactly what a fresh computation would."""

from __future__ import annotations

from rich.style import Style

from monitor.feed.testing import wave_candles
from monitor.market import Candle, Interval, Origin
from monitor.market.aggregate import aggregate
from monitor.ui.chartinput import aggregated, group_ends
from monitor.ui.render.cells import Canvas, RowsInUse

START = 1_764_061_200 - 1_764_061_200 % 960  # a 16-minute boundary: groups of 16 start here


def fresh(candles: list[Candle], n: int) -> tuple[list[Candle], list[int]]:
    return aggregate(candles, n, Interval.M1), group_ends(candles, n, Interval.M1)


def test_a_backfilled_member_arriving_inside_a_cached_group_recomputes_it() -> None:
    candles = wave_candles(START, Interval.M1, 64, 50.0)
    holey = candles[:20] + candles[21:]  # 20 missing: its group (16..31) holds 15 members
    aggregated(holey, 16, Interval.M1)
    filled = [*candles[:20], candles[20]._replace(origin=Origin.BACKFILL, volume=10**6), *candles[21:]]
    merged, ends = aggregated(filled, 16, Interval.M1)
    assert (merged, ends) == fresh(filled, 16)
    assert merged[1].origin is Origin.BACKFILL and merged[1].volume >= 10**6


def test_a_correction_of_the_last_member_of_a_cached_group_changes_its_close() -> None:
    candles = wave_candles(START, Interval.M1, 48, 50.0)
    aggregated(candles, 16, Interval.M1)
    corrected = [*candles[:31], candles[31]._replace(close=candles[31].close + 3.0), *candles[32:]]
    merged, _ = aggregated(corrected, 16, Interval.M1)
    assert merged == fresh(corrected, 16)[0]
    assert merged[1].close == candles[31].close + 3.0


def test_a_zoom_change_regroups_instead_of_reusing_groups_of_the_old_size() -> None:
    candles = wave_candles(START, Interval.M1, 64, 50.0)
    for n in (16, 8, 4, 16):
        merged, ends = aggregated(candles, n, Interval.M1)
        assert (merged, ends) == fresh(candles, n)
        assert len(merged) == 64 // n


def test_a_group_trimmed_from_the_front_is_merged_from_the_members_left() -> None:
    candles = wave_candles(START, Interval.M1, 64, 50.0)
    aggregated(candles, 16, Interval.M1)
    trimmed = candles[5:]  # the oldest group lost five members
    merged, ends = aggregated(trimmed, 16, Interval.M1)
    assert (merged, ends) == fresh(trimmed, 16)
    assert merged[0].open == candles[5].open and merged[0].volume == sum(c.volume for c in candles[5:16])


def test_rows_of_equal_glyphs_but_other_style_runs_are_not_taken_for_each_other() -> None:
    red, green, blank = Style(color="red"), Style(color="green"), Style()
    rows = RowsInUse()
    first = Canvas(6, 1, blank)
    first.text(0, 0, "ab", red)
    second = Canvas(6, 1, blank)
    second.text(0, 0, "a", red)
    second.text(0, 1, "b", green)
    (one,) = first.strips(rows)
    (other,) = second.strips(RowsInUse())
    assert [(s.text, s.style) for s in one] == [("ab", red), ("    ", blank)]
    assert [(s.text, s.style) for s in other] == [("a", red), ("b", green), ("    ", blank)]

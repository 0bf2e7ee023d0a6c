"""What keeps scroll-back frames cheap: the group cache, the row cache of rows in use, the GC policy."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from monitor.feed.testing import wave_candles
from monitor.market import CandleSeries, Interval, SeriesKey
from monitor.market.aggregate import aggregate
from monitor.ui.chartinput import aggregated, group_ends
from monitor.ui.gcpolicy import GcPolicy
from monitor.ui.render import ChartInput, ChartStyle, NativeRenderer
from monitor.ui.render import cells as cells_module

START = 1_764_061_200
STYLE = ChartStyle(up="green", down="red", axis="grey50")


@pytest.mark.parametrize("n", [2, 4, 8, 16])
@pytest.mark.parametrize(("start", "stop"), [(0, 300), (7, 211), (123, 124), (0, 0)])
def test_aggregated_matches_aggregate_and_group_ends_for_any_window(n: int, start: int, stop: int) -> None:
    candles = wave_candles(START, Interval.M1, 300, 100.0)[start:stop]
    for _ in range(2):  # the second pass is answered from the cache
        assert aggregated(candles, n, Interval.M1) == (
            aggregate(candles, n, Interval.M1),
            group_ends(candles, n, Interval.M1),
        )


def test_a_corrected_member_recomputes_its_group() -> None:
    candles = wave_candles(START, Interval.M1, 40, 100.0)
    aggregated(candles, 8, Interval.M1)
    corrected = [*candles[:10], candles[10]._replace(high=candles[10].high + 50.0), *candles[11:]]
    merged, _ = aggregated(corrected, 8, Interval.M1)
    assert merged == aggregate(corrected, 8, Interval.M1)
    assert max(c.high for c in merged) == candles[10].high + 50.0


def chart(count: int, base: float) -> ChartInput:
    return ChartInput(candles=tuple(wave_candles(START, Interval.M1, count, base)), interval=Interval.M1)


def test_row_cache_holds_only_rows_of_last_frames_and_frees_them_with_the_renderer() -> None:
    cells_module.forget_styles()
    first, second = NativeRenderer(), NativeRenderer()
    strips = first.render(chart(60, 100.0), 80, 20, STYLE)
    assert set(map(id, strips)) <= set(map(id, cells_module._ROWS.values()))
    second.render(chart(60, 100.0), 80, 20, STYLE)  # the same rows: shared, not built again
    held = len(cells_module._ROWS)
    assert held == len({id(s) for s in strips})
    first.render(chart(60, 900.0), 80, 20, STYLE)  # first moves on: its old rows stay for second
    assert all(id(s) in set(map(id, cells_module._ROWS.values())) for s in strips)
    del second
    gc.collect()
    # Only the rows of `first`'s last frame are left.
    last = first.render(chart(60, 900.0), 80, 20, STYLE)
    assert set(map(id, cells_module._ROWS.values())) == set(map(id, last))
    del first
    gc.collect()
    assert not cells_module._ROWS and not cells_module._USERS


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # other tests must see the collector as it was


def held_series(count: int, start: int = START) -> CandleSeries:
    series = CandleSeries(SeriesKey("uid-sber", Interval.M1))
    series.merge_history(wave_candles(start, Interval.M1, count, 100.0))
    return series


def test_gc_policy_freezes_once_bulk_history_lands_and_not_for_trickles(unfrozen: None) -> None:
    policy = GcPolicy(step=1_000)
    series = held_series(999)
    frozen = gc.get_freeze_count()  # an app run earlier in this process may have frozen already
    assert not policy.after_tick([series, None]) and gc.get_freeze_count() == frozen
    series.merge_history(wave_candles(START + 999 * 60, Interval.M1, 1, 100.0))
    assert policy.after_tick([series]) and gc.get_freeze_count() >= frozen + 1_000  # the candles
    assert policy.freezes == 1
    # A live candle a minute is a trickle: no new freeze.
    series.merge_history(wave_candles(START + 1_000 * 60, Interval.M1, 5, 100.0))
    assert not policy.after_tick([series])


def test_gc_policy_counts_an_older_page_as_landed(unfrozen: None) -> None:
    policy = GcPolicy(step=1_000)
    series = held_series(1_200)
    assert policy.after_tick([series])
    series.merge_history(wave_candles(START - 600 * 60, Interval.M1, 600, 100.0))
    assert not policy.after_tick([series])  # 600 older candles: not yet a page's worth
    series.merge_history(wave_candles(START - 1_200 * 60, Interval.M1, 600, 100.0))
    assert policy.after_tick([series]) and policy.freezes == 2

"""PlotextRenderer: the same ChartInput through plotext, as strips of the asked size."""

from __future__ import annotations

import calendar

import pytest

from monitor.market import Candle, Interval
from monitor.ui.render import ChartInput, ChartStyle, get_renderer
from monitor.ui.render.plotext_renderer import PlotextRenderer, build_chart

T0 = calendar.timegm((2026, 11, 25, 7, 0, 0))


def series(n: int) -> list[Candle]:
    return [
        Candle(T0 + i * 60, 100 + i % 5, 102 + i % 5, 99 + i % 5, 101 + (i % 3), 10, i < n - 1)
        for i in range(n)
    ]


@pytest.mark.parametrize(("width", "height"), [(0, 0), (10, 3), (20, 5), (60, 16), (120, 30)])
@pytest.mark.parametrize("count", [0, 1, 200])
def test_returns_the_asked_size(width: int, height: int, count: int) -> None:
    data = ChartInput(series(count), Interval.M1, last_price=101.0, price_step=0.01)
    strips = PlotextRenderer().render(data, width, height, ChartStyle())
    assert len(strips) == height
    assert all(strip.cell_length == width for strip in strips)


def test_draws_candle_glyphs_and_our_time_labels() -> None:
    strips = get_renderer("plotext").render(ChartInput(series(40), Interval.M1), 100, 24, ChartStyle())
    text = "\n".join(strip.text for strip in strips)
    assert "█" in text and "│" in text
    assert "07:" in text  # labels are ours, in UTC here, not plotext's local-time dates
    assert any(seg.style is not None and seg.style.color is not None for strip in strips for seg in strip)


def test_flat_series_gets_a_range() -> None:
    flat = [Candle(T0 + i * 60, 5.0, 5.0, 5.0, 5.0, 1, True) for i in range(10)]
    text = build_chart(ChartInput(flat, Interval.M1, price_step=0.01), 60, 16, ChartStyle())
    assert text is not None and "5.00" in text


def test_title_is_drawn() -> None:
    text = build_chart(ChartInput(series(10), Interval.M1), 80, 20, ChartStyle(), title="SBER · 1m · UTC")
    assert text is not None and "SBER · 1m · UTC" in text

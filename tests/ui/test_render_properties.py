"""Property tests: any candle set at any size renders without raising, to exactly height x width cells."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.market import Candle, Interval
from monitor.ui.render import ChartInput, ChartStyle, NativeRenderer

T0 = 1_795_590_000
PRICE_SCALES = [0.0000105, 0.01, 1.0, 250.0, 1e6, 1e12]


@st.composite
def candle_sets(draw: st.DrawFn) -> tuple[list[Candle], Interval, list[tuple[int, int]]]:
    interval = draw(st.sampled_from(list(Interval)))
    scale = draw(st.sampled_from(PRICE_SCALES))
    flat = draw(st.booleans())
    count = draw(st.integers(0, 60))
    candles: list[Candle] = []
    for i in range(count):
        if flat:
            o = h = low = c = scale
        else:
            values = [scale * draw(st.floats(0.5, 1.5)) for _ in range(4)]
            o, c = values[0], values[1]
            h, low = max(values), min(values)
        stays_open = draw(st.booleans())
        closed = i < count - 1 or not stays_open
        candles.append(Candle(T0 + i * interval.seconds, o, h, low, c, draw(st.integers(0, 10**9)), closed))
    gaps: list[tuple[int, int]] = []
    add_gap = draw(st.booleans())
    if candles and add_gap:
        start = draw(st.integers(0, count)) * interval.seconds + T0
        gaps.append((start, start + draw(st.integers(1, 10**6))))
    return candles, interval, gaps


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=candle_sets(),
    width=st.integers(0, 160),
    height=st.integers(0, 50),
    last=st.one_of(st.none(), st.floats(0.000001, 1e13)),
    step=st.one_of(st.none(), st.sampled_from([0.0000001, 0.01, 0.5, 1.0, 10.0])),
    volume=st.booleans(),
)
def test_any_input_renders_exactly_the_asked_size(
    drawn: tuple[list[Candle], Interval, list[tuple[int, int]]],
    width: int,
    height: int,
    last: float | None,
    step: float | None,
    volume: bool,
) -> None:
    candles, interval, gaps = drawn
    data = ChartInput(
        candles, interval, gaps=gaps, backfilled=gaps, last_price=last, price_step=step, show_volume=volume
    )
    strips = NativeRenderer().render(data, width, height, ChartStyle())
    assert len(strips) == height
    for strip in strips:
        assert strip.cell_length == width
        assert len(strip.text) == width
        assert "nan" not in strip.text.lower()

"""Property tests: any candles, cursor, zoom and indicators at any size render to exactly height x width."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from monitor.market import Candle, Interval
from monitor.ui.render import ChartInput, ChartStyle, NativeRenderer, Overlay, Pane, Zoom

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


ODD_VALUES = st.one_of(
    st.none(),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -1e300, 1e300]),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e13, max_value=1e13),
)


@st.composite
def indicator_inputs(draw: st.DrawFn, count: int) -> tuple[tuple[Overlay, ...], Pane | None]:
    """Overlays and a pane with any values (None, NaN, inf, huge), of any length around `count`."""

    def values() -> list[float | None]:
        return draw(st.lists(ODD_VALUES, min_size=0, max_size=count + 3))

    overlays = tuple(Overlay(f"o{k}", values()) for k in range(draw(st.integers(0, 3))))
    if not draw(st.booleans()):
        return overlays, None
    bounds = draw(st.one_of(st.none(), st.tuples(ODD_VALUES, ODD_VALUES)))
    pane = Pane(
        "P",
        tuple(Overlay(f"l{k}", values()) for k in range(draw(st.integers(0, 2)))),
        histogram=values() if draw(st.booleans()) else None,
        levels=tuple(v for v in draw(st.lists(ODD_VALUES, max_size=3)) if v is not None),
        bounds=None if bounds is None or None in bounds else (bounds[0] or 0.0, bounds[1] or 0.0),
    )
    return overlays, pane


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=candle_sets(),
    width=st.integers(0, 160),
    height=st.integers(0, 50),
    cursor=st.one_of(st.none(), st.integers(-5, 70)),
    zoom=st.builds(Zoom, st.integers(-1, 5), st.integers(-1, 20)),
    readout=st.one_of(st.none(), st.text(max_size=200), st.just("宽字符\t\n\u0301x")),
    data=st.data(),
)
def test_any_cursor_zoom_and_indicators_render_exactly_the_asked_size(
    drawn: tuple[list[Candle], Interval, list[tuple[int, int]]],
    width: int,
    height: int,
    cursor: int | None,
    zoom: Zoom,
    readout: str | None,
    data: st.DataObject,
) -> None:
    candles, interval, gaps = drawn
    overlays, pane = data.draw(indicator_inputs(len(candles)))
    chart = ChartInput(
        candles, interval, gaps=gaps, cursor=cursor, overlays=overlays, pane=pane, zoom=zoom, readout=readout
    )
    renderer = NativeRenderer()
    strips = renderer.render(chart, width, height, ChartStyle())
    assert len(strips) == height
    for strip in strips:
        assert strip.cell_length == width
        assert len(strip.text) == width and cell_len(strip.text) == width
        assert "nan" not in strip.text.lower() or (readout is not None and "nan" in readout.lower())
    geometry = renderer.geometry(chart, width, height)
    for x in range(-1, width + 1):
        index = geometry.index_at(x)
        assert index is None or 0 <= index < len(candles)
    for y in range(-1, height + 1):
        price = geometry.price_at(y)
        assert price is None or math.isfinite(price)

"""Render budget: the native renderer against plotext on the same 200 candles at 120x30, plain and
with two overlays and the RSI pane (issue 14)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from functools import partial

from monitor.market import Candle, Interval
from monitor.ui.render import ChartInput, ChartStyle, Overlay, Pane, Renderer, get_renderer
from tests.perf.harness import Result, median, percentile, timings

WIDTH, HEIGHT, COUNT = 120, 30, 200


def make_candles(count: int, seed: int = 7) -> list[Candle]:
    """A random walk of closed candles, the last one forming."""
    rng = random.Random(seed)
    price, out = 300.0, []
    for n in range(count):
        open_ = price
        close = max(1.0, open_ + rng.gauss(0, 1.5))
        high, low = max(open_, close) + rng.random(), min(open_, close) - rng.random()
        out.append(
            Candle(1_700_000_000 + 60 * n, open_, high, low, close, rng.randint(1, 5000), n < count - 1)
        )
        price = close
    return out


def _frames(count: int) -> list[ChartInput]:
    # Every frame differs in its forming candle, as on a live panel, so no renderer cache helps.
    base = make_candles(COUNT)
    frames = []
    for n in range(count):
        last = base[-1]
        moved = last._replace(close=last.close + (n % 7) * 0.01, high=last.high + (n % 7) * 0.01)
        frames.append(
            ChartInput(
                candles=[*base[:-1], moved], interval=Interval.M1, last_price=moved.close, price_step=0.01
            )
        )
    return frames


def _moving_average(values: list[float], n: int) -> list[float | None]:
    return [None if i < n - 1 else sum(values[i - n + 1 : i + 1]) / n for i in range(len(values))]


def _rsi(values: list[float], n: int) -> list[float | None]:
    """A plain (non-smoothed) RSI: enough for a realistic line in 0-100, not a reference value."""
    out: list[float | None] = [None] * len(values)
    for i in range(n, len(values)):
        moves = [values[k] - values[k - 1] for k in range(i - n + 1, i + 1)]
        gain = sum(m for m in moves if m > 0)
        loss = -sum(m for m in moves if m < 0)
        out[i] = 100.0 if loss == 0 else 100 - 100 / (1 + gain / loss)
    return out


def _with_indicators(frames: list[ChartInput]) -> list[ChartInput]:
    """The same frames with SMA 20 and EMA-like SMA 50 overlays, the RSI 14 pane and a cursor."""
    out = []
    for frame in frames:
        closes = [c.close for c in frame.candles]
        pane = Pane("RSI 14", (Overlay("rsi", _rsi(closes, 14)),), levels=(30.0, 70.0), bounds=(0.0, 100.0))
        overlays = (
            Overlay("SMA 20", _moving_average(closes, 20)),
            Overlay("SMA 50", _moving_average(closes, 50)),
        )
        out.append(
            ChartInput(
                frame.candles,
                frame.interval,
                last_price=frame.last_price,
                price_step=frame.price_step,
                overlays=overlays,
                pane=pane,
                cursor=len(closes) - 30,
                readout="readout line",
            )
        )
    return out


def _plotext_raw_seconds(candles: list[Candle], repeat: int) -> list[float]:
    """plotext itself drawing all 200 candles at 120x30: candlestick() + build()."""
    from plotext._figure import _figure_class

    data = {
        "Open": [c.open for c in candles],
        "Close": [c.close for c in candles],
        "High": [c.high for c in candles],
        "Low": [c.low for c in candles],
    }

    def once() -> None:
        figure = _figure_class()
        figure.plotsize(WIDTH, HEIGHT)
        figure.candlestick(list(range(len(candles))), data)
        figure.build()

    return timings(once, repeat)


def _render_next(renderer: Renderer, frames: Iterator[ChartInput]) -> None:
    renderer.render(next(frames), WIDTH, HEIGHT, ChartStyle())


def run(quick: bool) -> list[Result]:
    rounds, per_round = (3, 30) if quick else (5, 100)
    native = get_renderer("native")
    plotext = get_renderer("plotext")
    native_times: list[float] = []
    indicator_times: list[float] = []
    plotext_times: list[float] = []
    raw_times: list[float] = []
    native_medians, indicator_medians, plotext_medians, raw_medians = [], [], [], []
    for _ in range(rounds):
        frames = _frames(per_round)
        frame_iter = iter(frames)
        t = timings(partial(_render_next, native, frame_iter), per_round)
        native_times += t
        native_medians.append(median(t))
        # Indicator values are computed before timing: the renderer's cost is what is measured.
        indicator_iter = iter(_with_indicators(frames))
        t = timings(partial(_render_next, native, indicator_iter), per_round)
        indicator_times += t
        indicator_medians.append(median(t))
        frame_iter = iter(frames[: per_round // 5])
        t = timings(partial(_render_next, plotext, frame_iter), per_round // 5)
        plotext_times += t
        plotext_medians.append(median(t))
        t = _plotext_raw_seconds(list(frames[0].candles), max(3, per_round // 10))
        raw_times += t
        raw_medians.append(median(t))
    native_ms = median(native_medians) * 1000
    indicator_ms = median(indicator_medians) * 1000
    reference_ms = median(raw_medians) * 1000
    ratio = native_ms / reference_ms
    indicator_ratio = indicator_ms / reference_ms
    p95 = percentile(native_times, 95) * 1000
    indicator_p95 = percentile(indicator_times, 95) * 1000
    return [
        Result(
            "render: native / plotext time",
            ratio,
            "ratio",
            "<= 0.10",
            ratio <= 0.10,
            {
                "native_ms": native_ms,
                "plotext_raw_ms": reference_ms,
                "plotext_renderer_ms": median(plotext_medians) * 1000,
            },
        ),
        Result("render: native p95", p95, "ms", "<= 5 ms", p95 <= 5.0, {"frames": float(len(native_times))}),
        Result(
            "render: indicators / plotext time",
            indicator_ratio,
            "ratio",
            "<= 0.10",
            indicator_ratio <= 0.10,
            {"indicators_ms": indicator_ms, "plotext_raw_ms": reference_ms, "plain_native_ms": native_ms},
        ),
        Result(
            "render: indicators p95",
            indicator_p95,
            "ms",
            "<= 3 ms",
            indicator_p95 <= 3.0,
            {"plotext_raw_ms": reference_ms, "frames": float(len(indicator_times))},
        ),
    ]

"""What a panel hands its renderer for the window its chart view shows (cursor, zoom, readout)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, fields
from typing import Any

from monitor.market import Candle, CandleSeries, Interval
from monitor.ui.chartview import ChartState, Frame, ZoomLevel, frame
from monitor.ui.render.base import ChartInput, Renderer
from monitor.ui.render.scale import decimals_for, format_price, format_volume

PRICE_AXIS_GUESS = 8
"""Cells the narrowest price axis takes, for a renderer that cannot say how many candles fit: the
guess errs on the side of too many, which such a renderer cuts on the left, as it always did."""

_CHART_FIELDS = frozenset(field.name for field in fields(ChartInput))


def visible_candles(renderer: Renderer, width: int, zoom: ZoomLevel) -> int:
    """How many candles fit in `width` cells at `zoom` (the renderer's own figure when it has one)."""
    fits = getattr(renderer, "visible_candles", None)
    if fits is not None:
        try:
            counted: int = fits(width, render_zoom(zoom))
            return max(1, counted)
        except (TypeError, ValueError):
            pass
    return max(1, (width - min(PRICE_AXIS_GUESS, width // 2)) // zoom.cells * zoom.group)


def render_zoom(zoom: ZoomLevel) -> Any:
    """The renderer's Zoom for a level (ours until the renderer defines its own)."""
    try:
        from monitor.ui.render import base
    except ImportError:  # pragma: no cover - base always imports
        return zoom
    kind = getattr(base, "Zoom", None)
    if kind is None:
        return zoom
    try:
        return kind(cells=zoom.cells, group=zoom.group)
    except TypeError:
        return zoom


def candle_state(candle: Candle, backfilled: bool) -> str:
    if not candle.closed:
        return "forming"
    return "backfilled" if backfilled else "closed"


def readout(
    candles: list[Candle],
    index: int,
    tz: datetime.tzinfo,
    price_step: float | None,
    interval: Interval,
    backfilled: bool,
) -> str:
    """One candle's line: start time, O H L C, change from the previous close, volume, state."""
    candle = candles[index]
    decimals = decimals_for(price_step, abs(candle.close))
    moment = datetime.datetime.fromtimestamp(candle.time, tz)
    when = moment.strftime("%d.%m %H:%M" if interval.seconds < 86_400 else "%d.%m.%Y")

    def price(value: float) -> str:
        return format_price(value, decimals, grouped=True)

    parts = [when, *(f"{n} {price(v)}" for n, v in zip("OHLC", candle[1:5], strict=True))]
    previous = candles[index - 1].close if index > 0 else candle.open
    if previous:
        change = candle.close - previous
        parts.append(f"{'+' if change >= 0 else '−'}{price(abs(change))} {change / previous * 100:+.2f}%")
    parts += [f"V {format_volume(candle.volume)}", candle_state(candle, backfilled)]
    return READOUT_SEPARATOR.join(parts)


READOUT_SEPARATOR = "  "


def wrap_readout(text: str, width: int, lines: int = 2) -> list[str]:
    """The readout in at most `lines` lines of `width` cells, broken between its parts."""
    out: list[str] = []
    for part in text.split(READOUT_SEPARATOR):
        if out and len(out[-1]) + len(READOUT_SEPARATOR) + len(part) <= width:
            out[-1] += READOUT_SEPARATOR + part
        elif len(out) < lines:
            out.append(part[:width])
        else:
            break
    return out


@dataclass(frozen=True, slots=True)
class Shown:
    """A built chart input and the frame it shows (the header reads the frame, the chart the input)."""

    data: ChartInput
    frame: Frame
    readout: str | None
    renderer_draws_readout: bool


def build_input(
    series: CandleSeries,
    state: ChartState,
    visible: int,
    *,
    interval: Interval,
    last_price: float | None,
    price_step: float | None,
    tz: datetime.tzinfo,
    show_volume: bool,
    extra: dict[str, object] | None = None,
) -> Shown:
    """The ChartInput of the window `state` shows; fields the renderer lacks are left out."""
    shown = frame(state, series, visible)
    candles = series.window(shown.start, shown.stop)
    text = None
    if shown.cursor is not None and candles:
        held = candles[shown.cursor]
        filled = any(start <= held.time < end for start, end in series.backfilled)
        text = readout(candles, shown.cursor, tz, price_step, interval, filled)
    options: dict[str, object] = {
        "cursor": shown.cursor,
        "zoom": render_zoom(state.zoom_level),
        "readout": text,
        **(extra or {}),
    }
    data = ChartInput(
        candles=candles,
        interval=interval,
        gaps=tuple(series.gaps),
        backfilled=tuple(series.backfilled),
        last_price=last_price,
        price_step=price_step,
        tz=tz,
        show_volume=show_volume,
        **{name: value for name, value in options.items() if name in _CHART_FIELDS},
    )
    return Shown(data, shown, text, "readout" in _CHART_FIELDS)

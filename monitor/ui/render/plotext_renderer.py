"""The plotext renderer: the same ChartInput drawn by plotext 5.3.2 (static charts, comparison)."""

from __future__ import annotations

from rich.color import Color, ColorParseError
from rich.console import Console
from rich.text import Text
from textual.strip import Strip

from monitor.ui.render.base import ChartInput, ChartStyle
from monitor.ui.render.cells import MIN_HEIGHT, MIN_WIDTH
from monitor.ui.render.geometry import Geometry
from monitor.ui.render.native import NativeRenderer
from monitor.ui.render.scale import (
    build_slots,
    compact_price,
    decimals_for,
    fit_range,
    format_price,
    nice_ticks,
    time_label,
)

RGB = tuple[int, int, int]

# Only used to turn Text into Segments; never prints, so its own size and terminal do not matter.
_CONSOLE = Console(color_system="truecolor", force_terminal=True, width=1000, legacy_windows=False)


def _rgb(name: str | None) -> RGB | None:
    """plotext knows few colour names; an RGB tuple carries any Rich colour across."""
    if name is None:
        return None
    try:
        triplet = Color.parse(name).get_truecolor()
    except ColorParseError:
        return None
    return (triplet.red, triplet.green, triplet.blue)


def build_chart(
    data: ChartInput, width: int, height: int, style: ChartStyle, title: str | None = None
) -> str | None:
    """The chart as plotext's ANSI text, or None when there is nothing plotext can draw.

    The x axis is the slot index (limitation 1 of the field notes: real time squashes nights),
    labelled by us in `data.tz` (limitation 3); the y range and labels are ours too, so flat and
    tiny series work (limitation 4), and at most one candle per two columns is drawn (limitation 2).
    """
    from plotext._figure import _figure_class  # a private figure: the module-level one is global state

    # About ten columns go to the y labels and the frame; a free column between candles keeps them apart.
    limit = max(1, (width - 12) // 2)
    slots = build_slots(data.candles[-width:], data.interval, data.gaps, data.backfilled, limit)
    indexed = [(index, slot.candle) for index, slot in enumerate(slots) if slot.candle is not None]
    if not indexed:
        return None
    candles = [candle for _, candle in indexed]
    lows = [min(c.open, c.high, c.low, c.close) for c in candles]
    highs = [max(c.open, c.high, c.low, c.close) for c in candles]
    last = data.last_price if data.last_price is not None and lows and abs(data.last_price) < 1e15 else None
    extra = [] if last is None or last != last else [last]
    lo, hi = fit_range(min(lows + extra), max(highs + extra), data.price_step)

    fig = _figure_class()
    # A master figure is capped at the terminal size unless told otherwise; the panel's size rules here
    # (and _set_size after plotsize is textual-plotext's fix for its issue #5).
    fig._limit_size(False, False)
    fig.plotsize(width, height)
    fig._set_size(width, height)
    fig.theme("clear")
    up, down = _rgb(style.up) or "green", _rgb(style.down) or "red"
    axis = _rgb(style.axis)
    if axis is not None:
        fig.ticks_color(axis)
    background = _rgb(style.background)
    if background is not None:
        fig.canvas_color(background)
        fig.axes_color(background)
    fig.candlestick(
        [index for index, _ in indexed],
        {
            "Open": [c.open for c in candles],
            "Close": [c.close for c in candles],
            "High": [c.high for c in candles],
            "Low": [c.low for c in candles],
        },
        colors=[up, down],
    )
    gap = _rgb(style.gap) or "gray"
    for index, slot in enumerate(slots):
        if slot.candle is None:
            fig.vline(index, gap)
    if last is not None:
        fig.hline(last, _rgb(style.last_price) or "yellow")
    fig.xlim(-1, len(slots))
    fig.ylim(lo, hi)
    decimals = decimals_for(data.price_step, max(abs(lo), abs(hi)))
    ticks = nice_ticks(lo, hi, max(2, height // 5), data.price_step) or [lo, hi]
    labels = [format_price(v, decimals) for v in ticks]
    if max(len(label) for label in labels) > 12:
        labels = [compact_price(v) for v in ticks]
    fig.yticks(ticks, labels)
    every = max(1, len(slots) // max(1, width // 12))
    positions = list(range(0, len(slots), every))
    fig.xticks(positions, [time_label(slots[i].time, data.interval, data.tz) for i in positions])
    if title:
        fig.title(title)
    output = str(fig.build())
    return output[:-1] if output.endswith("\n") else output  # plotext ends with a newline: one row too many


class PlotextRenderer:
    """plotext behind the Renderer interface; about 10x slower than NativeRenderer (see design.md)."""

    def __init__(self) -> None:
        self._fallback = NativeRenderer()

    def render(self, data: ChartInput, width: int, height: int, style: ChartStyle) -> list[Strip]:
        """Renders through plotext; tiny sizes and empty data use the native summary/placeholder."""
        width, height = max(0, width), max(0, height)
        if width < MIN_WIDTH or height < MIN_HEIGHT:
            return self._fallback.render(data, width, height, style)
        output = build_chart(data, width, height, style)
        if output is None:
            return self._fallback.render(data, width, height, style)
        return ansi_to_strips(output, width, height)

    def geometry(self, data: ChartInput, width: int, height: int) -> Geometry:
        """No column mapping: plotext lays the candles out itself, so hover maps to no candle."""
        del data, width, height
        return Geometry()


def ansi_to_strips(output: str, width: int, height: int) -> list[Strip]:
    """Converts ANSI text into exactly `height` strips of `width` cells (cropped or padded)."""
    lines = Text.from_ansi(output, no_wrap=True, overflow="crop").split("\n", allow_blank=True)
    strips = [Strip(line.render(_CONSOLE)).adjust_cell_length(width) for line in lines[:height]]
    strips.extend(Strip.blank(width) for _ in range(height - len(strips)))
    return strips

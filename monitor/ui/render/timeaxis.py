"""The native chart's time axis: the marker row (gaps, backfill, forming dot) and the labels under it."""

from __future__ import annotations

import datetime
from functools import lru_cache

from monitor.market import Interval
from monitor.ui.render.base import ChartInput
from monitor.ui.render.cells import BACKFILL, FORMING_MARK, GAP, Canvas, Palette
from monitor.ui.render.geometry import Layout
from monitor.ui.render.scale import time_label, tz_name

LABEL_SPACING = 8
"""Cells a round time label needs from the next one (HH:MM plus room)."""


@lru_cache(maxsize=256)
def time_labels(
    times: tuple[int, ...], interval: Interval, tz: datetime.tzinfo, step: int, seconds: int
) -> tuple[tuple[int, str], ...]:
    """(slot index, label) candidates in placement order: the first that fits wins its cells.

    `seconds` is a column's time span (the interval times the candles aggregated per column), so
    a zoomed-out axis picks a coarser round period. Memoized: the slot times only move when a new
    period starts, and formatting a datetime per slot was the costliest part of a live frame.
    """
    out: list[tuple[int, str]] = []
    period = 0
    if interval.seconds < 86_400:
        moments = [datetime.datetime.fromtimestamp(at, tz) for at in times]
        # Day starts get their DD.MM label first, so the date is never more than a screen away.
        for index, moment in enumerate(moments):
            if index == 0 or moment.date() != moments[index - 1].date():
                out.append((index, moment.strftime("%d.%m")))
        period = round_period(seconds, step)
        for index, moment in enumerate(moments):
            offset = moment.utcoffset()
            local = times[index] + (int(offset.total_seconds()) if offset else 0)
            if period and local % period == 0:
                out.append((index, moment.strftime("%H:%M")))
    if not period:
        out += [(index, time_label(at, interval, tz)) for index, at in enumerate(times)]
    return tuple(out)


def round_period(column_seconds: int, columns_per_slot: int) -> int:
    """The shortest round time step (seconds) whose labels fit side by side, or 0 if none does."""
    for minutes in (1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720):
        period = minutes * 60
        if period % column_seconds == 0 and period // column_seconds * columns_per_slot >= LABEL_SPACING:
            return period
    return 0


def draw_time_axis(canvas: Canvas, layout: Layout, data: ChartInput, pal: Palette) -> None:
    """The axis line with its marks, then as many time labels as fit without touching."""
    marker, labels, plot_w = layout.marker_row, layout.label_row, layout.plot_w
    for col in range(plot_w):
        canvas.put(marker, col, "─", pal.axis)
    canvas.put(marker, plot_w, "┘", pal.axis)
    for index, slot in enumerate(layout.slots):
        x, centre, _ = layout.columns(index)
        if slot.candle is None or slot.backfilled:
            glyph, style = (GAP, pal.gap) if slot.candle is None else (BACKFILL, pal.backfill)
            for col in range(x, x + layout.step):
                canvas.put(marker, col, glyph, style)
        if slot.candle is not None and not slot.candle.closed:
            canvas.put(marker, centre, FORMING_MARK, pal.last_label)
    occupied = bytearray(canvas.width + 2)
    times = tuple(slot.time for slot in layout.slots)
    seconds = data.interval.seconds * max(1, data.zoom.candles_per_column)
    for index, text in time_labels(times, data.interval, data.tz, layout.step, seconds):
        _place_label(canvas, layout, pal, index, text, occupied)
    zone = tz_name(layout.slots[-1].time, data.tz)
    if plot_w + 2 + len(zone) <= canvas.width:
        canvas.text(labels, plot_w + 2, zone, pal.axis)


def _place_label(
    canvas: Canvas, layout: Layout, pal: Palette, index: int, text: str, occupied: bytearray
) -> None:
    """Writes a time label at a slot's centre if it and a one-cell margin are free."""
    centre = layout.columns(index)[1]
    end = centre + len(text)
    if end > layout.plot_w + 1 or any(occupied[max(0, centre - 1) : end + 2]):
        return
    occupied[centre:end] = b"\x01" * len(text)
    canvas.text(layout.label_row, centre, text, pal.axis)
    if canvas.chars[layout.marker_row][centre] == "─":
        canvas.put(layout.marker_row, centre, "┬", pal.axis)

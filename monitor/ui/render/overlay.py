"""Indicator lines in braille: four dots per cell row, two per cell column, clipped to the area."""

from __future__ import annotations

from collections.abc import Sequence

from rich.style import Style

from monitor.ui.render.cells import Canvas
from monitor.ui.render.geometry import Layout

BRAILLE_BASE = 0x2800
# Dot bits of a braille cell by (sub-column, sub-row from the top).
DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))


def is_braille(char: str) -> bool:
    return BRAILLE_BASE <= ord(char) <= BRAILLE_BASE + 0xFF


def draw_line(
    canvas: Canvas,
    layout: Layout,
    values: Sequence[float | None],
    area: tuple[int, int, float, float],
    style: Style,
) -> None:
    """Draws one line of per-slot `values` into `area` = (top row, rows, lo, hi).

    The line is sampled at every braille dot column, linearly between the slot centres around
    it; a dot outside [lo, hi] is not drawn (clipped, never pulled to the edge), and neither is
    a segment next to a missing value. Cells holding anything but blank, a dotted guide or
    braille keep their glyph: the candles are never hidden under an indicator.
    """
    top, rows, lo, hi = area
    if rows <= 0 or hi <= lo or not values:
        return
    centres = [layout.columns(index)[1] for index in range(len(values))]
    dots = rows * 4
    span = hi - lo
    chars, styles = canvas.chars, canvas.styles
    for index in range(len(values)):
        value = values[index]
        if value is None:
            continue
        nxt = values[index + 1] if index + 1 < len(values) else None
        start = 2 * centres[index]
        # Dot columns from this slot's centre up to the next one's (or only the centre's own pair).
        end = 2 * centres[index + 1] if nxt is not None else start + 2
        for dot_x in range(start, end):
            if nxt is None or end == start:
                sample = value
            else:
                sample = value + (nxt - value) * (dot_x - start) / (end - start)
            level = (sample - lo) / span * (dots - 1)
            if not -0.5 <= level <= dots - 0.5:
                continue  # outside the area: clipped
            dot_row = min(dots - 1, max(0, dots - 1 - round(level)))
            row, col = top + dot_row // 4, dot_x // 2
            if col >= layout.plot_w:
                continue
            char = chars[row][col]
            if char == " " or char == "┄" or char == "·":
                bits = 0
            elif is_braille(char):
                bits = ord(char) - BRAILLE_BASE
            else:
                continue  # a candle, volume bar or marker: keep it visible
            chars[row][col] = chr(BRAILLE_BASE | bits | DOT_BITS[dot_x % 2][dot_row % 4])
            styles[row][col] = style

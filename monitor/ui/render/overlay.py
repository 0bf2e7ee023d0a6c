"""Indicator lines in braille: four dots per cell row, two per cell column, clipped to the area."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

from rich.style import Style

from monitor.ui.render.cells import LEVEL_LINE, Canvas
from monitor.ui.render.geometry import Layout

BRAILLE_BASE = 0x2800
BRAILLE = tuple(chr(BRAILLE_BASE + bits) for bits in range(256))
BRAILLE_FIRST, BRAILLE_LAST = BRAILLE[0], BRAILLE[-1]
# Dot bits of a braille cell by (sub-column, sub-row from the top).
DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
Area = tuple[int, int, float, float]
"""(top row, rows, lo, hi) of the area a line is drawn in."""
Cells = tuple[tuple[int, int, int], ...]
"""(row, column, dot bits) of the cells a line touches."""


def is_braille(char: str) -> bool:
    return BRAILLE_FIRST <= char <= BRAILLE_LAST


def draw_line(
    canvas: Canvas, layout: Layout, values: Sequence[float | None], area: Area, style: Style
) -> None:
    """Draws one line of per-slot `values` into `area`.

    The line is sampled at every braille dot column, linearly between the slot centres around
    it; a dot outside [lo, hi] is not drawn (clipped, never pulled to the edge), and neither is
    a segment next to a missing value. Cells holding anything but blank, a dotted guide or
    braille keep their glyph: the candles are never hidden under an indicator.
    """
    top, rows, lo, hi = area
    if rows <= 0 or not hi > lo or not values:
        return
    first = layout.columns(0)[1]
    shape = (first, layout.step, layout.plot_w, top, rows, lo, hi)
    # A live frame differs from the last one in its newest value only: everything up to the
    # segment into it is memoized, the rest is drawn afresh.
    split = max(0, len(values) - 2)
    _apply(canvas, _segments(tuple(values[: split + 1]), 0, *shape), style)
    _apply(canvas, _segments(tuple(values[split:]), split, *shape, last=True), style)


def _apply(canvas: Canvas, cells: Iterable[tuple[int, int, int]], style: Style) -> None:
    chars, styles = canvas.chars, canvas.styles
    for row, col, bits in cells:
        line = chars[row]
        char = line[col]
        if char == " " or char == LEVEL_LINE:
            line[col] = BRAILLE[bits]
        elif BRAILLE_FIRST <= char <= BRAILLE_LAST:
            line[col] = BRAILLE[(ord(char) - BRAILLE_BASE) | bits]
        else:
            continue  # a candle, volume bar or marker: keep it visible
        styles[row][col] = style


@lru_cache(maxsize=512)
def _segments(
    values: tuple[float | None, ...],
    offset: int,
    first: int,
    step: int,
    plot_w: int,
    top: int,
    rows: int,
    lo: float,
    hi: float,
    *,
    last: bool = False,
) -> Cells:
    """The cells of the segments between consecutive `values` (slots offset.. of the layout),
    plus the final value's own dot pair when `last`."""
    dots = rows * 4
    scale = (dots - 1) / (hi - lo)
    levels = [None if v is None else (v - lo) * scale for v in values]
    bits: dict[tuple[int, int], int] = {}
    count = len(levels)
    for index in range(count if last else count - 1):
        level = levels[index]
        if level is None:
            continue
        start = 2 * (first + (offset + index) * step)
        nxt = levels[index + 1] if index + 1 < count else None
        if nxt is None:
            samples: Iterable[tuple[int, float]] = ((start, level), (start + 1, level)) if last else ()
        else:
            width = 2 * step
            slope = (nxt - level) / width
            samples = ((start + k, level + slope * k) for k in range(width))
        for dot_x, sample in samples:
            if not -0.5 <= sample <= dots - 0.5 or dot_x >= 2 * plot_w:
                continue  # outside the area: clipped
            dot_row = min(dots - 1, max(0, dots - 1 - round(sample)))
            key = (top + dot_row // 4, dot_x // 2)
            bits[key] = bits.get(key, 0) | DOT_BITS[dot_x % 2][dot_row % 4]
    return tuple((row, col, value) for (row, col), value in bits.items())

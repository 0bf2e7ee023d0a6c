"""Cell-level building blocks of the native renderer: glyph tables, cached styles and a canvas."""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import lru_cache
from itertools import compress, repeat
from operator import is_not

from rich.cells import get_character_cell_size
from rich.color import Color, ColorParseError
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from monitor.ui.render.base import ChartStyle

MIN_WIDTH = 20
"""Below this many columns (or MIN_HEIGHT rows) the chart collapses to a one-line summary."""
MIN_HEIGHT = 5
WAITING = "waiting for data…"
GAP = "░"
BACKFILL = "━"
LAST_LINE = "┄"
LAST_MARK = "◀"
FORMING_MARK = "•"
CURSOR_LINE = "┊"
CURSOR_MARK = "◁"
CURSOR_TICK = "▲"
LEVEL_LINE = "┄"
VOLUME = " ▁▂▃▄▅▆▇█"


def _centre_glyph(upper_body: bool, lower_body: bool, upper_wick: bool, lower_wick: bool) -> str:
    """The glyph of a candle's centre column in one cell, from what covers each half of it."""
    if upper_body and lower_body:
        return "█"
    if upper_body:
        # The heavy-over-light line keeps the wick continuous where a half block would break it.
        return "╿" if lower_wick else "▀"
    if lower_body:
        return "╽" if upper_wick else "▄"
    if upper_wick and lower_wick:
        return "│"
    if upper_wick:
        return "╵"
    return "╷" if lower_wick else " "


# Precomputed for every combination so the per-cell loop is one tuple lookup.
CENTRE = {
    (ub, lb, uw, lw): _centre_glyph(ub, lb, uw, lw)
    for ub in (False, True)
    for lb in (False, True)
    for uw in (False, True)
    for lw in (False, True)
}
SIDE = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}


def _color(name: str | None) -> Color | None:
    if name is None:
        return None
    try:
        return Color.parse(name)
    except ColorParseError:
        return None  # a bad theme colour falls back to the terminal default instead of crashing


@dataclass(frozen=True)
class Palette:
    """The Rich styles of one ChartStyle, built once (Style objects are compared by identity)."""

    blank: Style
    axis: Style
    gap: Style
    backfill: Style
    last_line: Style
    last_label: Style
    candle: dict[tuple[bool, bool], Style]  # (up, forming) -> style
    volume: dict[bool, Style]  # up -> style
    cursor: Style
    cursor_label: Style
    lines: tuple[Style, ...]
    background: str | None


@lru_cache(maxsize=32)
def palette(style: ChartStyle) -> Palette:
    """The styles of `style`; the forming candle is dimmed (and always marked with a dot below it)."""
    bg = _color(style.background)

    def make(color: str | None, *, bold: bool = False, dim: bool = False) -> Style:
        # None, not False: an unset attribute lets the widget's own style show through.
        return Style(color=_color(color), bgcolor=bg, bold=bold or None, dim=dim or None)

    return Palette(
        blank=make(None),
        axis=make(style.axis),
        gap=make(style.gap),
        backfill=make(style.backfill, bold=True),
        last_line=make(style.last_price),
        last_label=make(style.last_price, bold=True),
        candle={
            (True, False): make(style.up),
            (False, False): make(style.down),
            (True, True): make(style.up, dim=style.forming_dim),
            (False, True): make(style.down, dim=style.forming_dim),
        },
        # The very styles of the closed candles: a dimmed copy was blended by the terminal into
        # another hue (magenta bars under red candles in 256 colours, pastel in the light theme).
        volume={True: make(style.up), False: make(style.down)},
        cursor=make(style.cursor),
        cursor_label=Style(color=_color(style.cursor), bgcolor=bg, bold=True, reverse=True),
        lines=tuple(make(color) for color in style.lines) or (make(style.axis),),
        background=style.background,
    )


def line_style(pal: Palette, number: int, color: str | None) -> Style:
    """The style of the number-th indicator line: its own colour, else the palette's next one."""
    if color is None:
        return pal.lines[number % len(pal.lines)]
    return _colored(color, pal.background)


@lru_cache(maxsize=64)
def _colored(color: str, background: str | None) -> Style:
    # Cached: the canvas finds runs of equal styles by identity.
    return Style(color=_color(color), bgcolor=_color(background))


def forget_styles() -> None:
    """Drops the cached palettes and row strips (after a theme change their colours are gone for good)."""
    palette.cache_clear()
    _colored.cache_clear()
    _ROWS.clear()
    _USERS.clear()


def single_cells(text: str) -> str:
    """`text` with every character that is not exactly one cell wide (wide, combining, control)
    replaced by "?", so a caller's text can never push a row past its width."""
    if text.isascii() and text.isprintable():
        return text
    return "".join(
        char if get_character_cell_size(char) == 1 and char.isprintable() else "?" for char in text
    )


class Canvas:
    """A grid of one-cell glyphs and their styles, turned into Strips row by row."""

    __slots__ = ("chars", "styles", "width")

    def __init__(self, width: int, height: int, blank: Style) -> None:
        self.width = width
        self.chars = [[" "] * width for _ in range(height)]
        self.styles = [[blank] * width for _ in range(height)]

    def put(self, row: int, col: int, char: str, style: Style) -> None:
        self.chars[row][col] = char
        self.styles[row][col] = style

    def text(self, row: int, col: int, text: str, style: Style) -> None:
        """Writes `text` from `col`, clipped to the canvas."""
        chars, styles = self.chars[row], self.styles[row]
        for offset, char in enumerate(text[: max(0, self.width - col)]):
            if col + offset >= 0:
                chars[col + offset] = char
                styles[col + offset] = style

    def strips(self, rows: RowsInUse | None = None) -> list[Strip]:
        """The rows as Strips; `rows` (the caller's previous frame) is updated to this frame's."""
        result: list[Strip] = []
        width = self.width
        if not width:
            return [Strip([], 0) for _ in self.chars]
        cache, users = _ROWS, _USERS
        keys: list[RowKey] = []
        columns = range(1, width)
        for chars, styles in zip(self.chars, self.styles, strict=True):
            # Most rows of a live chart are the same as in the last frame: reuse their Strip (and
            # with it Textual's caches on it) instead of building the segments again.
            text = "".join(chars)
            # Run boundaries found at C speed: where a cell's style object differs from its left
            # neighbour's (palette styles are shared objects, so identity finds the runs without
            # hashing). They are found once and serve as the key and, on a miss, as the runs.
            bounds = [0, *compress(columns, map(is_not, styles[1:], styles)), width]
            run_styles = list(map(styles.__getitem__, bounds[:-1]))
            key = (text, tuple(bounds), tuple(map(id, run_styles)))
            strip = cache.get(key)
            if strip is None:
                strip = cache[key] = _strip(text if len(text) == width else None, chars, bounds, run_styles)
            users[key] = users.get(key, 0) + 1
            keys.append(key)
            result.append(strip)
        held = rows.keys if rows is not None else []
        _release(held)
        held[:] = keys
        if rows is None:
            _release(held)
        return result


RowKey = tuple[str, tuple[int, ...], tuple[int, ...]]
_ROWS: dict[RowKey, Strip] = {}
"""Row strips by (glyphs, run bounds, identities of the runs' styles), for the rows some renderer's
last frame drew. An entry holds the very Style objects its key names, so no other object can take one of
those ids while the entry exists. Only rows in use are kept: a Strip is ~40 GC-tracked objects
(segments, Textual's caches on it), and every full collection walks all that is held (a
4,096-row cache of rows scrolled out of view made each one cost tens of ms)."""
_USERS: dict[RowKey, int] = {}
"""How many rows of renderers' last frames use each key of `_ROWS`."""


def _release(keys: list[RowKey]) -> None:
    users = _USERS
    for key in keys:
        count = users.get(key, 0) - 1
        if count > 0:
            users[key] = count
        else:
            users.pop(key, None)
            _ROWS.pop(key, None)


class RowsInUse:
    """The row keys of one renderer's last frame; released when the renderer is dropped."""

    __slots__ = ("__weakref__", "keys")

    def __init__(self) -> None:
        self.keys: list[RowKey] = []
        weakref.finalize(self, _release, self.keys)


def _strip(text: str | None, chars: list[str], bounds: list[int], run_styles: list[Style]) -> Strip:
    """The row's Strip from its run `bounds` ([0, ..., width]) and each run's style; `text` is its
    glyphs joined when each cell holds one code point (then runs are slices of it), else None."""
    starts, stops = bounds[:-1], bounds[1:]
    if text is None:
        texts = ["".join(chars[start:stop]) for start, stop in zip(starts, stops, strict=True)]
    else:
        texts = list(map(text.__getitem__, map(slice, starts, stops)))
    # Segment is a NamedTuple (text, style, control): built by tuple.__new__ directly, the very
    # object Segment(text, style) makes, without a Python-level __new__ call per run.
    runs = zip(texts, run_styles, repeat(None))
    return Strip(list(map(tuple.__new__, repeat(Segment), runs)), bounds[-1])

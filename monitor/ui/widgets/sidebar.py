"""The watchlist sidebar: one row per entry with price, change, phase and a health dot."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual import events
from textual.geometry import Region
from textual.message import Message
from textual.selection import Selection
from textual.strip import Strip
from textual.visual import Visual, visualize
from textual.widget import Widget

from monitor.ui.badge import ERROR, MUTED, OK, WARN
from monitor.ui.views import Row

DOT_STYLES: dict[str, str] = {OK: "green", WARN: "yellow", ERROR: "red", MUTED: "grey50"}
EMPTY_TEXT = "(empty list: press a to add)"
MAX_TICKER = 6
GUTTER = 4
"""Border and padding cells around the rows."""
MAX_WIDTH = 44
"""The widest the sidebar gets (longer rows are cut with an ellipsis): the charts need the room."""


@dataclass(frozen=True, slots=True)
class Columns:
    """Column widths sized to the rows shown, so the sidebar is as wide as its content."""

    ticker: int = MAX_TICKER
    interval: int = 3
    price: int = 9
    phase: int = 6

    @classmethod
    def of(cls, rows: tuple[Row, ...]) -> Columns:
        if not rows:
            return cls()
        sized = cls(
            ticker=max(len(row.ticker[:MAX_TICKER]) for row in rows),
            interval=max(len(row.interval) for row in rows),
            price=0,
            phase=max(len(row.phase) for row in rows),
        )
        # A price too long for the widest sidebar is cut on its own row (with an ellipsis).
        room = MAX_WIDTH - GUTTER - sized.width
        return replace(sized, price=min(room, max(cell_len(row.price) for row in rows)))

    @property
    def width(self) -> int:
        """Cells of a row: marker and number (3), dot (2), ticker, interval, price, change (7), phase."""
        phase = 1 + self.phase if self.phase else 0
        return 3 + 2 + self.ticker + 1 + self.interval + 1 + self.price + 1 + 7 + phase


class RowClicked(Message):
    """Row `index` of the watchlist was clicked (`double`: twice in a row)."""

    def __init__(self, index: int, double: bool) -> None:
        super().__init__()
        self.index, self.double = index, double


class WatchlistSidebar(Widget):
    """Renders rows the app computes, line by line: a price tick repaints its own row only.

    Each row is rendered on its own and cached until it (or the selection on it) changes, so a
    busy watchlist does not rebuild every row whenever any price moves.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"watchlist-sidebar--selected"}
    DEFAULT_CSS = """
    WatchlistSidebar > .watchlist-sidebar--selected {
        background: $accent 35%;
        text-style: bold;
    }
    WatchlistSidebar {
        width: 44;  /* MAX_WIDTH until the first rows size it */
        height: 1fr;
        border: round $panel-lighten-2;
        border-title-color: $text;
        padding: 0 1;
    }
    """

    def __init__(self, *, up_color: str, down_color: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.up_color = up_color
        self.down_color = down_color
        self.title = ""
        self.rows: tuple[Row, ...] = ()
        self.selected = 0
        self._lines: list[Strip | None] = []
        self._lines_key: tuple[object, ...] | None = None
        self._styles: dict[tuple[str, bool, int, int], RichStyle] = {}
        self.columns = Columns()

    def show(self, title: str, rows: tuple[Row, ...], selected: int) -> None:
        """Takes the rows and selection; repaints only the rows that differ."""
        # A Text, not a str: a border title string is markup, and list names come from the user's file.
        if self.title != title:
            self.title = title
            self.border_title = Text(title)
        old, old_selected = self.rows, self.selected
        if rows == old and selected == old_selected:
            return
        self.rows, self.selected = rows, selected
        columns = Columns.of(rows)
        if columns != self.columns:
            self.columns, self._lines, self._styles = columns, [], {}
            # As wide as the rows (and the hint of an empty list), never wider.
            self.styles.width = min(MAX_WIDTH, max(columns.width, cell_len(EMPTY_TEXT)) + GUTTER)
            self.refresh()
            return
        if len(rows) != len(old) or not rows or len(self._lines) != len(rows):
            self._lines = []
            self.refresh()
            return
        width = self.size.width
        for i, row in enumerate(rows):
            if row != old[i] or (selected != old_selected and i in (selected, old_selected)):
                self._lines[i] = None
                self.refresh(Region(0, i, width, 1))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        row = offset.y if offset is not None else -1
        if 0 <= row < len(self.rows):
            self.post_message(RowClicked(row, event.chain >= 2))

    def set_colors(self, up_color: str, down_color: str) -> None:
        """Changes the colours of rising and falling changes (a theme change) and redraws the rows."""
        if (up_color, down_color) != (self.up_color, self.down_color):
            self.up_color, self.down_color = up_color, down_color
            self._lines, self._styles = [], {}
            self.refresh()

    def notify_style_update(self) -> None:
        # A theme change restyles every row.
        super().notify_style_update()
        self._lines = []

    def selection_updated(self, selection: Selection | None) -> None:
        # A mouse selection spans rows, so it is drawn by the whole-text path (see render_line).
        self._lines = []
        super().selection_updated(selection)

    def render_line(self, y: int) -> Strip:
        if self.text_selection is not None:
            return super().render_line(y)
        width, style = self.size.width, self.visual_style
        count = max(1, len(self.rows))
        if self._lines_key != (width, style) or len(self._lines) != count:
            self._lines_key, self._lines = (width, style), [None] * count
            self._styles = {}
        if y >= count:
            return Strip.blank(width, style.rich_style)
        strip = self._lines[y]
        if strip is None:
            strip = self._lines[y] = self._row_strip(y, width) if self.rows else self._text_strip(y, width)
        return strip

    def _row_strip(self, i: int, width: int) -> Strip:
        """A row from its parts and styles resolved once each, without laying out a text.

        A busy list re-renders most rows on every tick; Textual's text layout is the costly part,
        and the parts of a row never wrap, so only a row wider than the sidebar takes that path.
        """
        parts = self._parts(i)
        if sum(cell_len(text) for text, _ in parts) > width:
            return self._text_strip(i, width)  # cut with an ellipsis, as the text path does
        selected = i == self.selected
        segments: list[Segment] = []
        x = 0
        for text, part in parts:
            segments.append(Segment(text, self._styled(part, selected, x, i)))
            x += cell_len(text)
        return Strip(segments, x)

    def _styled(self, part: str, selected: bool, x: int, y: int) -> RichStyle:
        """The style Textual's text path gives a part at (x, y), offset meta (text selection) included.

        The style itself is rendered once through Textual (so themes and colours match exactly);
        the offset is added the way Textual adds it, and each (part, x, y) is kept.
        """
        key = (part, selected, x, y)
        style = self._styles.get(key)
        if style is None:
            base = self._styles.get((part, selected, -1, -1))
            if base is None:
                line = Text(no_wrap=True)
                line.append("x", style=part)
                if selected:
                    line.stylize(self._selected_style())
                segment = next(iter(self._render_text(line, 1)), None)
                base = segment.style if segment is not None and segment.style else RichStyle()
                self._styles[(part, selected, -1, -1)] = base
            style = self._styles[key] = base + RichStyle.from_meta({"offset": (x, y)})
        return style

    def _text_strip(self, i: int, width: int) -> Strip:
        if not self.rows:
            return self._render_text(Text(EMPTY_TEXT, "dim"), width)
        # Blank lines first, so the offsets Textual stamps on the cells name the row's own line.
        lead = Text("\n" * i, no_wrap=True)
        return self._render_text(lead + self._line(i), width, i)

    def _render_text(self, line: Text, width: int, y: int = 0) -> Strip:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append_text(line)
        strips = Visual.to_strips(self, visualize(self, text), width, y + 1, self.visual_style)
        return strips[y] if len(strips) > y else Strip.blank(width, self.visual_style.rich_style)

    def render(self) -> Text:
        """The whole list as one text (used while the user selects text with the mouse)."""
        text = Text(no_wrap=True, overflow="ellipsis")
        if not self.rows:
            text.append(EMPTY_TEXT, style="dim")
        for i in range(len(self.rows)):
            if i:
                text.append("\n")
            text.append_text(self._line(i))
        return text

    def _line(self, i: int) -> Text:
        line = Text(no_wrap=True)
        for text, style in self._parts(i):
            line.append(text, style=style)
        if i == self.selected:
            line.stylize(self._selected_style())
        return line

    def _selected_style(self) -> RichStyle:
        # One background under every cell of the row, its colours kept (reverse made each part's
        # own colour the background: a patchwork of green, red and grey blocks).
        # The full style blends the translucent background over the sidebar's; only the background
        # and weight are taken, so the parts keep their own colours.
        full = self.get_component_rich_style("watchlist-sidebar--selected")
        return RichStyle(bgcolor=full.bgcolor, bold=True)

    def _parts(self, i: int) -> list[tuple[str, str]]:
        """A row as (text, style) parts: the one definition of a row both render paths use."""
        row = self.rows[i]
        selected = i == self.selected
        c = self.columns
        parts = [
            (f"{'▶' if selected else ' '}{i + 1 if i < 9 else ' '} ", "bold" if selected else "dim"),
            ("● ", DOT_STYLES.get(row.level, "grey50")),
            (f"{row.ticker[:MAX_TICKER]:<{c.ticker}} {row.interval:>{c.interval}} ", "bold"),
            (f"{row.price:>{c.price}} ", ""),
            self._change(row.change),
        ]
        if c.phase:
            parts.append((f" {row.phase:<{c.phase}}", "dim"))
        used = sum(cell_len(text) for text, _ in parts)
        if selected and used < self.size.width:
            # The highlight runs to the sidebar's edge, not only under the row's text.
            parts.append((" " * (self.size.width - used), ""))
        merged: list[tuple[str, str]] = []
        for text, style in parts:
            if not style and merged and not merged[-1][1]:
                # Unstyled neighbours are one run in a Text (no span between them): one segment.
                merged[-1] = (merged[-1][0] + text, "")
            else:
                merged.append((text, style))
        return merged

    def _change(self, change: float | None) -> tuple[str, str]:
        if change is None:
            return f"{'—':>7}", "dim"
        colour = self.up_color if change > 0 else self.down_color if change < 0 else ""
        return f"{change * 100:>+6.2f}%", colour

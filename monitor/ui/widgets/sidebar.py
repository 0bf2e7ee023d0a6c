"""The watchlist sidebar: one row per entry with price, change, phase and a health dot."""

from __future__ import annotations

from dataclasses import dataclass

from rich.style import Style
from rich.text import Text
from textual.widget import Widget

from monitor.ui.widgets.badge import ERROR, MUTED, OK, WARN

DOT_STYLES: dict[str, str] = {OK: "green", WARN: "yellow", ERROR: "red", MUTED: "grey50"}


@dataclass(frozen=True, slots=True)
class Row:
    """One sidebar row, already formatted."""

    ticker: str
    interval: str
    price: str
    change: float | None
    phase: str
    level: str


class WatchlistSidebar(Widget):
    """Renders rows the app computes; redrawn only when a row or the selection changed."""

    DEFAULT_CSS = """
    WatchlistSidebar {
        width: 44;
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

    def show(self, title: str, rows: tuple[Row, ...], selected: int) -> None:
        """Takes the rows and selection; refreshes only when something differs."""
        # A Text, not a str: a border title string is markup, and list names come from the user's file.
        if self.title != title:
            self.title = title
            self.border_title = Text(title)
        if rows != self.rows or selected != self.selected:
            self.rows, self.selected = rows, selected
            self.refresh()

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        if not self.rows:
            text.append("(empty list: press a to add)", style="dim")
        for i, row in enumerate(self.rows):
            if i:
                text.append("\n")
            line = Text(no_wrap=True)
            marker = "▶" if i == self.selected else " "
            line.append(f"{marker}{i + 1 if i < 9 else ' '} ", style="bold" if i == self.selected else "dim")
            line.append("● ", style=DOT_STYLES.get(row.level, "grey50"))
            line.append(f"{row.ticker[:6]:<6} {row.interval:>3} ", style="bold")
            line.append(f"{row.price:>9} ")
            line.append(self._change(row.change))
            line.append(f" {row.phase:<6}", style="dim")
            if i == self.selected:
                line.stylize(Style(reverse=True))
            text.append_text(line)
        return text

    def _change(self, change: float | None) -> Text:
        if change is None:
            return Text(f"{'—':>7}", style="dim")
        colour = self.up_color if change > 0 else self.down_color if change < 0 else ""
        return Text(f"{change * 100:>+6.2f}%", style=colour)

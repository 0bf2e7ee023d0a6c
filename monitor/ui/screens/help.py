"""The help screen: every key, its action, what the badges and the chart's axis marks mean."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from monitor.ui.render.cells import BACKFILL, FORMING_MARK, GAP, LAST_LINE, LAST_MARK
from monitor.ui.screens.modal import Modal

BADGES: tuple[tuple[str, str], ...] = (
    ("LIVE 3s", "streaming; 3s since the newest candle update"),
    ("LIVE no trades yet", "subscribed and streaming; no trade in this series yet"),
    ("NO DATA 43s", "the market trades but no update came for 43s (over 30s): quiet, or cut off"),
    ("LAGGING 14s", "updates arrive, but 14s after the server stamped them: a slow link"),
    ("PENDING", "looking the instrument up, or waiting for the server to confirm its subscription"),
    ("RETRYING", "the look-up or subscription failed for now (its reason is shown); tried again"),
    ("CONNECTING", "opening the connection (the first time, or after r)"),
    ("STALE", "the connection is silent, not even pings: it is being reopened"),
    ("CLOSED", "the market is closed: silence is expected"),
    ("RECONNECTING", "the connection dropped; the feed retries with backoff (r: now)"),
    ("ERROR", "the entry failed (its reason is shown), the token was rejected, or the feed stopped"),
    ("EMPTY", "no instrument in this panel: select a row and press Enter"),
)
"""The panel badges, one row each: a new badge (ui/badge.py, ui/views.py) adds its row here
(tests/ui/test_app_keys.py checks that every label drawn is explained)."""
AXIS_MARKS: tuple[tuple[str, str], ...] = (
    (BACKFILL * 3, "under candles filled in from history (GetCandles) after an outage"),
    (GAP * 3, "a gap: periods missed while disconnected, not filled in yet (shaded up the chart)"),
    (FORMING_MARK, "under the forming candle: its period is not over (drawn dimmed)"),
    (f"{LAST_LINE * 3}{LAST_MARK}", "the last price, across the chart to its label"),
)
"""The marks on the time axis (and the price line), one row each, from the renderer's own glyphs."""
CHART_VIEW: tuple[tuple[str, str], ...] = (
    ("HISTORY −3h 20m", "looking back: the right edge is 3h 20m before the newest candle (End: live)"),
    ("+12 new", "12 candles arrived since you left the live edge; the view stays where it is"),
    ("loading…", "older candles are being fetched (reaching the oldest held asks for more)"),
    ("start of history", "the chart shows the instrument's first candle: nothing older exists"),
    ("load failed", "the last page of older candles failed (the log says why); ← tries again"),
)
"""The panel header's words on where the chart looks (monitor.ui.chartview.history_label)."""
MOUSE: tuple[tuple[str, str], ...] = (
    ("click a row", "select it; double-click shows it in the focused panel"),
    ("click a panel", "focus it"),
    ("hover a panel", "the cursor follows the pointer (readout of that candle)"),
    ("wheel", "zoom the panel under the pointer"),
    ("drag", "pan the chart (right: back in time)"),
)


def legend(rows: tuple[tuple[str, str], ...]) -> Table:
    """A two-column table: the mark or key in bold, then what it means."""
    table = Table(box=None, show_header=False, padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for mark, meaning in rows:
        table.add_row(mark, meaning)
    return table


class HelpScreen(Modal[None]):
    """Lists the key map the app is actually using (after `ui.keys` overrides)."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 84; height: 34; border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, keys: Sequence[tuple[str, str]], feed_detail: Text | None = None) -> None:
        super().__init__()
        self.keys = list(keys)
        self.feed_detail = feed_detail
        """Feed trouble worth knowing as of opening (skipped server messages), or None."""

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("[b]Keys[/b]  (also in the command palette: ctrl+p)")
            yield Static(legend(tuple(self.keys)))
            yield Static("\n[b]Panel badges[/b]")
            yield Static(legend(BADGES), id="badges")
            yield Static("\n[b]Chart marks[/b]  (on the time axis)")
            yield Static(legend(AXIS_MARKS), id="axis-marks")
            yield Static("\n[b]Chart view[/b]  (in the panel header)")
            yield Static(legend(CHART_VIEW), id="chart-view")
            yield Static("\n[b]Mouse[/b]")
            yield Static(legend(MOUSE), id="mouse")
            if self.feed_detail is not None:
                yield Static("\n[b]Feed[/b]")
                # A Text: it quotes the server, so it is never read as markup.
                yield Static(self.feed_detail, id="feed-detail")
            yield Static("\n[dim]Esc closes this screen.[/dim]")

    def action_close(self) -> None:
        self.dismiss(None)

"""The help screen: every key, its action, and what the badges mean."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from monitor.ui.screens.modal import Modal

BADGES: tuple[tuple[str, str], ...] = (
    ("LIVE 3s", "streaming; 3s since the newest candle update"),
    ("NO DATA 43s", "the market trades but no update came for 43s (over 30s): quiet, or cut off"),
    ("STALE", "the connection is silent, not even pings: it is being reopened"),
    ("CLOSED", "the market is closed: silence is expected"),
    ("RECONNECTING", "the connection dropped; the feed retries with backoff (r: now)"),
    ("ERROR", "the entry failed (its reason is shown) or the feed stopped"),
)


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
        table = Table(box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold")
        table.add_column()
        for key, description in self.keys:
            table.add_row(key, description)
        badges = Table(box=None, show_header=False, padding=(0, 2))
        badges.add_column(style="bold")
        badges.add_column()
        for badge, meaning in BADGES:
            badges.add_row(badge, meaning)
        with VerticalScroll():
            yield Static("[b]Keys[/b]  (also in the command palette: ctrl+p)")
            yield Static(table)
            yield Static("\n[b]Panel badges[/b]")
            yield Static(badges)
            if self.feed_detail is not None:
                yield Static("\n[b]Feed[/b]")
                # A Text: it quotes the server, so it is never read as markup.
                yield Static(self.feed_detail, id="feed-detail")
            yield Static("\n[dim]Esc closes this screen.[/dim]")

    def action_close(self) -> None:
        self.dismiss(None)

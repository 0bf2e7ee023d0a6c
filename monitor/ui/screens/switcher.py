"""The watchlist switcher: a modal list of the file's watchlists."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from monitor.ui.screens.modal import Modal


class WatchlistSwitcher(Modal[str | None]):
    """Enter switches to the highlighted list, Escape keeps the current one."""

    DEFAULT_CSS = """
    WatchlistSwitcher { align: center middle; }
    WatchlistSwitcher > Vertical {
        width: 48; height: auto; max-height: 20; border: round $accent; background: $surface; padding: 0 1;
    }
    WatchlistSwitcher OptionList { height: auto; max-height: 16; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, names: Sequence[str], active: str) -> None:
        super().__init__()
        self.names = list(names)
        self.active = active

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Switch watchlist")
            options = OptionList(
                *(Option(f"{'●' if name == self.active else ' '} {name}", id=name) for name in self.names),
                id="watchlists",
                markup=False,  # list names come from the user's file
            )
            if self.active in self.names:
                options.highlighted = self.names.index(self.active)
            yield options

    @on(OptionList.OptionSelected, "#watchlists")
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.names[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)

"""The search-and-add modal: results from the feed's FindInstrument as you type (debounced)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from monitor.market import Instrument
from monitor.ui.screens.modal import Modal

Search = Callable[[str], Awaitable[list[Instrument]]]


class SearchScreen(Modal[Instrument | None]):
    """Type a ticker, name, FIGI or uid; Enter adds the highlighted result, Escape cancels."""

    DEFAULT_CSS = """
    SearchScreen { align: center middle; }
    SearchScreen > Vertical {
        width: 72; height: 20; border: round $accent; background: $surface; padding: 0 1;
    }
    SearchScreen OptionList { height: 1fr; }
    SearchScreen #search-status { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Next result", show=False),
        Binding("up", "move(-1)", "Previous result", show=False),
    ]

    def __init__(self, search: Search, *, debounce: float = 0.25) -> None:
        super().__init__()
        self.search = search
        self.debounce = debounce
        self.results: list[Instrument] = []
        self.query_text = ""
        """The query the shown results answer."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Add an instrument: ticker, name, FIGI or uid")
            yield Input(placeholder="e.g. SBER", id="search-input")
            # Names and symbols are data: never parsed as markup (a "[/x]" in a name would crash it).
            yield OptionList(id="search-results", markup=False)
            yield Label("type to search · ↑/↓ choose · Enter add · Esc cancel", id="search-status")

    @property
    def input(self) -> Input:
        return self.query_one("#search-input", Input)

    @property
    def options(self) -> OptionList:
        return self.query_one("#search-results", OptionList)

    @on(Input.Changed, "#search-input")
    def query_changed(self, event: Input.Changed) -> None:
        self.run_search(event.value)

    @work(exclusive=True, group="search", exit_on_error=False)
    async def run_search(self, query: str) -> None:
        # exclusive=True cancels the previous search, so only a pause in typing reaches the feed.
        if self.debounce > 0:
            await asyncio.sleep(self.debounce)
        try:
            results = await self.search(query) if query.strip() else []
        except Exception as exc:  # the screen says why nothing was found, whatever the feed hit
            self.show_results(query, [], failure=str(exc) or type(exc).__name__)
            return
        self.show_results(query, results)

    def show_results(self, query: str, results: list[Instrument], *, failure: str | None = None) -> None:
        self.query_text, self.results = query, results
        options = self.options
        options.clear_options()
        options.add_options(
            [Option(f"{item.symbol:<16} {item.name[:30]:<30} {item.kind}", id=item.uid) for item in results]
        )
        if results:
            options.highlighted = 0
        status = self.query_one("#search-status", Label)
        if failure is not None:
            # Plain text: the reason comes from the server and may hold markup-like brackets.
            status.update(Text(f"search failed: {failure}"))
        else:
            status.update(f"{len(results)} found" if query.strip() else "type to search")

    def action_move(self, step: int) -> None:
        if self.results:
            current = self.options.highlighted or 0
            self.options.highlighted = max(0, min(len(self.results) - 1, current + step))

    @on(Input.Submitted, "#search-input")
    async def submitted(self) -> None:
        query = self.input.value
        if query.strip() and query != self.query_text:
            # Enter before the debounced search answered: search now rather than add nothing.
            self.show_results(query, await self.search(query))
        self._choose(self.options.highlighted)

    @on(OptionList.OptionSelected, "#search-results")
    def selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option_index)

    def _choose(self, index: int | None) -> None:
        if self.results:
            self.dismiss(self.results[index if index is not None else 0])

    def action_cancel(self) -> None:
        self.dismiss(None)

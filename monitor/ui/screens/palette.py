"""The command palette: Textual's, safe to page through at once, listing every key action once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from functools import partial

from textual import command
from textual.app import App, SystemCommand
from textual.await_complete import AwaitComplete
from textual.command import CommandList
from textual.notifications import SeverityLevel
from textual.theme import ThemeProvider

from monitor.ui.screens.modal import dismissable, nothing_to_await
from monitor.uinames import KEY_ACTIONS, KeyAction

PAGING = ("page_up", "page_down")
TEXTUAL_QUIT = "Quit"
"""Textual's own palette entry for the same `action_quit` as ours, which also shows its key."""


class CommandPalette(command.CommandPalette):
    """Textual's palette, dismissed at most once, whose PageUp/PageDown wait for the matches' layout.

    Textual 8.2.8 (the newest release) raises `KeyError: 0` in `OptionList._move_page` when a
    page key arrives after new matches were added but before the list got its size: its map of
    option to line is only built once the list has a region. ctrl+p, a letter and PageDown at
    once crashed the app. The key is replayed after the next refresh instead.
    """

    def _action_command_list(self, action: str) -> None:
        if action in PAGING and not self._matches_laid_out():
            self.call_after_refresh(self._page_once_drawn, action)
            return
        super()._action_command_list(action)

    def _page_once_drawn(self, action: str) -> None:
        # Still not drawn (the palette is closing, or no match is left): nothing to page through.
        if self._matches_laid_out():
            super()._action_command_list(action)

    def dismiss(self, result: None = None) -> AwaitComplete:
        if not dismissable(self):  # Esc then a late Enter (or the reverse) in one burst
            return nothing_to_await()
        return super().dismiss(result)

    def _matches_laid_out(self) -> bool:
        lists = list(self.query(CommandList))
        return bool(lists) and (lists[0].option_count == 0 or bool(lists[0].scrollable_content_region))


class PaletteApp(App[int]):
    """An App whose command palettes (ctrl+p and the theme picker it offers) are the safe one, and
    whose notifications are plain text (they carry names, paths and errors, never markup)."""

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Textual's notify, but plain text by default."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def action_command_palette(self) -> None:
        if self.use_command_palette and not isinstance(self.screen, command.CommandPalette):
            self.push_screen(CommandPalette(id="--command-palette"))

    def search_themes(self) -> None:
        self.push_screen(CommandPalette(providers=[ThemeProvider], placeholder="Search for themes…"))


def key_label(item: KeyAction, overrides: Mapping[str, str]) -> str:
    """The key(s) of one action as the palette shows them (`ui.keys` overrides applied)."""
    keys = overrides.get(item.id) or item.key_display or item.keys
    if item.id.startswith("jump_") and item.id not in overrides:
        keys = item.keys  # the help screen folds them into "1–9"; the palette lists each row
    return keys.replace("question_mark", "?")


def palette_commands(
    inherited: Iterable[SystemCommand],
    overrides: Mapping[str, str],
    run: Callable[[str], Awaitable[object]],
) -> Iterator[SystemCommand]:
    """Textual's commands except its Quit, then every key action with its key (jump_1…jump_9 too)."""
    for item in inherited:
        if item.title != TEXTUAL_QUIT:
            yield item
    for action in KEY_ACTIONS:
        yield SystemCommand(
            action.description, f"key: {key_label(action, overrides)}", partial(run, action.action)
        )

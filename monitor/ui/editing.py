"""Watchlist edits from the keyboard (interval, add, remove, layout, switch, save), saved at once."""

from __future__ import annotations

import shutil
from pathlib import Path

from textual.app import App
from textual.notifications import SeverityLevel

from monitor.clock import Clock
from monitor.feed.api import FeedLike
from monitor.market import Instrument, WatchKey
from monitor.settings import Settings
from monitor.ui.state import next_layout, step_interval
from monitor.watchlist import (
    WatchlistError,
    Watchlists,
    add_entry,
    remove_entry,
    save_watchlists,
    set_active,
    set_entry_interval,
    set_layout,
)


class WatchlistEditing(App[int]):
    """The editing half of MonitorApp: every edit goes through `commit`, which saves the file."""

    settings: Settings
    watchlists: Watchlists
    watchlist_path: Path
    template_path: Path | None
    feed: FeedLike
    clock: Clock
    panels: list[WatchKey | None]
    selected: int
    focused_panel: int
    search_debounce: float

    def apply_watchlist(self, *, reset_panels: bool = False) -> None:
        raise NotImplementedError

    def update_watch(self) -> None:
        raise NotImplementedError

    def refresh_now(self) -> None:
        raise NotImplementedError

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Textual's notify, but plain text by default: messages carry names, paths and errors."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)

    def commit(self, watchlists: Watchlists, *, reset_panels: bool = False) -> bool:
        """Applies an edited Watchlists to the screen and the feed, then saves it."""
        self.watchlists = watchlists
        self.apply_watchlist(reset_panels=reset_panels)
        self.refresh_now()
        return self.save()

    def save(self) -> bool:
        """Writes the watchlists (comments kept, atomic); a failure is shown, the edit stays in memory."""
        path = self.watchlist_path
        try:
            if not path.exists() and self.template_path is not None and self.template_path.is_file():
                # Start the user's copy from the shipped file so its comments come along.
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.template_path, path)
            save_watchlists(path, self.watchlists)
        except (OSError, WatchlistError) as exc:
            self.notify(f"Not saved to {path}: {exc}", severity="error", timeout=10)
            return False
        return True

    def action_save(self) -> None:
        if self.save():
            self.notify(f"Saved {self.watchlist_path}")

    def action_interval(self, step: int) -> None:
        """Moves the focused panel to the next/previous interval; its watchlist entry follows."""
        if self.focused_panel >= len(self.panels):
            return
        key = self.panels[self.focused_panel]
        if key is None:
            return
        new_key = WatchKey(key.id, step_interval(key.interval, step))
        current = self.watchlists.active_list
        keys = list(current.entries)
        self.panels[self.focused_panel] = new_key
        if key in keys:
            try:
                edited = set_entry_interval(self.watchlists, current.name, keys.index(key), new_key.interval)
            except WatchlistError:
                # The list already has this id at that interval: the panel just shows that series.
                self.update_watch()
                self.refresh_now()
                return
            self.commit(edited)
        else:
            self.update_watch()
            self.refresh_now()

    def action_add(self) -> None:
        from monitor.ui.screens import SearchScreen

        self.push_screen(SearchScreen(self.feed.search, debounce=self.search_debounce), self._add_instrument)

    def _add_instrument(self, instrument: Instrument | None) -> None:
        if instrument is None:
            return
        current = self.watchlists.active_list
        entry = WatchKey(instrument.symbol, current.interval)
        try:
            edited = add_entry(self.watchlists, current.name, entry)
        except WatchlistError as exc:
            self.notify(str(exc), severity="warning")
            return
        self.selected = len(current.entries)
        if self.commit(edited):
            self.notify(f"Added {instrument.symbol} ({instrument.name})")

    def action_remove(self) -> None:
        current = self.watchlists.active_list
        if not current.entries:
            return
        removed = current.entries[self.selected]
        try:
            edited = remove_entry(self.watchlists, current.name, self.selected)
        except WatchlistError as exc:
            self.notify(str(exc), severity="warning")
            return
        if self.commit(edited):
            self.notify(f"Removed {removed.id}")

    def action_layout(self) -> None:
        current = self.watchlists.active_list
        self.commit(set_layout(self.watchlists, current.name, next_layout(current.layout)))

    def action_switch(self) -> None:
        from monitor.ui.screens import WatchlistSwitcher

        names = [item.name for item in self.watchlists.lists]
        self.push_screen(WatchlistSwitcher(names, self.watchlists.active_list.name), self._switch_to)

    def _switch_to(self, name: str | None) -> None:
        if name is None or name == self.watchlists.active_list.name:
            return
        self.selected = self.focused_panel = 0
        self.commit(set_active(self.watchlists, name), reset_panels=True)

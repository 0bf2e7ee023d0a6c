"""The view model: panels, focus, selection, layout, time zone, pause and the watchlist edits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from monitor.market import Instrument, Interval, WatchKey, ordered
from monitor.ui.times import next_timezone, timezone_for
from monitor.watchlist import (
    LAYOUTS,
    Watchlist,
    WatchlistError,
    Watchlists,
    add_entry,
    remove_entry,
    set_active,
    set_entry_interval,
    set_layout,
)

LAYOUT_PANELS: dict[str, int] = {"1": 1, "1x2": 2, "2x2": 4, "3x3": 9}
MAX_PANELS = max(LAYOUT_PANELS.values())


@dataclass(frozen=True, slots=True)
class Edit:
    """What an edit did: whether the watchlists changed (and must be saved) and what to tell the user."""

    changed: bool = False
    notice: str = ""
    """Shown once the change is saved."""
    warning: str = ""
    """Why nothing changed."""


def next_layout(layout: str) -> str:
    """1 → 1x2 → 2x2 → 3x3 → 1."""
    index = LAYOUTS.index(layout) if layout in LAYOUTS else -1
    return LAYOUTS[(index + 1) % len(LAYOUTS)]


def step_interval(interval: Interval, step: int) -> Interval:
    """The next (step=1) or previous (step=-1) interval, wrapping around."""
    cycle = ordered()
    return cycle[(cycle.index(interval) + step) % len(cycle)]


def assign_panels(
    current: Sequence[WatchKey | None], entries: Sequence[WatchKey], count: int
) -> list[WatchKey | None]:
    """Which series each of `count` panels shows after the list or the layout changed.

    A panel keeps its series while the list still holds it (so a reload or an add never moves
    what the user is looking at); the others take the first entries not shown yet, in list order.
    """
    keys = list(entries)
    kept: list[WatchKey | None] = [
        key if i < len(current) and (key := current[i]) in keys else None for i in range(count)
    ]
    unused = [key for key in keys if key not in kept]
    return [key if key is not None else (unused.pop(0) if unused else None) for key in kept]


def watch_keys(entries: Sequence[WatchKey], panels: Sequence[WatchKey | None]) -> list[WatchKey]:
    """Everything the feed must stream: every row (for its price) and every panel, once each."""
    result: list[WatchKey] = []
    for key in [*entries, *panels]:
        if key is not None and key not in result:
            result.append(key)
    return result


class MonitorModel:
    """What the screen shows and how the keys change it, without Textual: the App draws from it.

    Edits replace `watchlists` with a new value and return an Edit; saving it is the App's job.
    """

    def __init__(self, watchlists: Watchlists, timezone: str = "exchange") -> None:
        self.watchlists = watchlists
        self.timezone = timezone
        self.panels: list[WatchKey | None] = []
        self.selected = 0
        self.focused_panel = 0
        self.paused = False
        self.pending = 0
        """Feed updates that arrived while paused."""
        self.feed_down: str | None = None
        """Why the feed worker died, while it is dead."""
        self.apply(reset_panels=True)

    @property
    def current(self) -> Watchlist:
        """The list on screen."""
        return self.watchlists.active_list

    @property
    def panel_count(self) -> int:
        """Panels the current layout shows."""
        return LAYOUT_PANELS.get(self.current.layout, 4)

    @property
    def tz(self) -> tzinfo:
        return timezone_for(self.timezone)

    def panel(self, index: int) -> WatchKey | None:
        """The series panel `index` shows, if any."""
        return self.panels[index] if index < len(self.panels) else None

    def watch_keys(self) -> list[WatchKey]:
        """The series the feed must stream for this screen."""
        return watch_keys(self.current.entries, self.panels)

    def apply(self, *, reset_panels: bool = False) -> None:
        """Re-derives panels, selection and focus from `watchlists` (after any change)."""
        count = self.panel_count
        self.panels = assign_panels([] if reset_panels else self.panels, self.current.entries, count)
        self.selected = max(0, min(self.selected, len(self.current.entries) - 1))
        self.focused_panel = min(self.focused_panel, count - 1)

    # ------------------------------------------------------------------ view state

    def move(self, step: int) -> None:
        """Moves the selection by `step` rows, clamped to the list."""
        count = len(self.current.entries)
        if count:
            self.selected = max(0, min(count - 1, self.selected + step))

    def jump(self, index: int) -> None:
        """Selects row `index` when the list has it."""
        if index < len(self.current.entries):
            self.selected = index

    def show_selected(self) -> bool:
        """Shows the selected row in the focused panel; False when there is nothing to show."""
        entries = self.current.entries
        if not entries or self.focused_panel >= len(self.panels):
            return False
        self.panels[self.focused_panel] = entries[self.selected]
        return True

    def next_panel(self) -> None:
        self.focused_panel = (self.focused_panel + 1) % max(1, len(self.panels))

    def toggle_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self.pending = 0

    def feed_changed(self) -> None:
        """Counts an update the screen holds back while paused."""
        if self.paused:
            self.pending += 1

    def cycle_timezone(self) -> None:
        self.timezone = next_timezone(self.timezone)

    # ------------------------------------------------------------------ watchlist edits

    def change_interval(self, step: int) -> Edit:
        """Moves the focused panel to the next/previous interval; its watchlist entry follows."""
        key = self.panel(self.focused_panel)
        if key is None:
            return Edit()
        new_key = WatchKey(key.id, step_interval(key.interval, step))
        entries = list(self.current.entries)
        self.panels[self.focused_panel] = new_key
        if key not in entries:
            return Edit()
        try:
            edited = set_entry_interval(
                self.watchlists, self.current.name, entries.index(key), new_key.interval
            )
        except WatchlistError:
            # The list already has this id at that interval: the panel just shows that series.
            return Edit()
        return self._commit(edited)

    def add(self, instrument: Instrument) -> Edit:
        """Appends `instrument` at the list's interval and selects it."""
        current = self.current
        try:
            edited = add_entry(self.watchlists, current.name, WatchKey(instrument.symbol, current.interval))
        except WatchlistError as exc:
            return Edit(warning=str(exc))
        self.selected = len(current.entries)
        return self._commit(edited, notice=f"Added {instrument.symbol} ({instrument.name})")

    def remove(self) -> Edit:
        """Removes the selected row (never the last one)."""
        current = self.current
        if not current.entries:
            return Edit()
        removed = current.entries[self.selected]
        try:
            edited = remove_entry(self.watchlists, current.name, self.selected)
        except WatchlistError as exc:
            return Edit(warning=str(exc))
        return self._commit(edited, notice=f"Removed {removed.id}")

    def cycle_layout(self) -> Edit:
        current = self.current
        return self._commit(set_layout(self.watchlists, current.name, next_layout(current.layout)))

    def switch(self, name: str | None) -> Edit:
        """Shows list `name` from its first row and panel."""
        if name is None or name == self.current.name:
            return Edit()
        self.selected = self.focused_panel = 0
        return self._commit(set_active(self.watchlists, name), reset_panels=True)

    def reload(self, watchlists: Watchlists) -> None:
        """Takes a list that changed on disk; what is on screen stays unless the active list changed."""
        changed_list = watchlists.active_list.name != self.current.name
        self.watchlists = watchlists
        self.apply(reset_panels=changed_list)

    def _commit(self, watchlists: Watchlists, *, notice: str = "", reset_panels: bool = False) -> Edit:
        self.watchlists = watchlists
        self.apply(reset_panels=reset_panels)
        return Edit(changed=True, notice=notice)

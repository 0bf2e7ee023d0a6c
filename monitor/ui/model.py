"""The view model: panels, focus, selection, layout, time zone, pause and the watchlist edits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import cast

from monitor.market import Instrument, Interval, WatchKey, ordered
from monitor.market.indicators import IndicatorSpec
from monitor.ui.chartview import ChartViews
from monitor.ui.times import next_timezone, timezone_for
from monitor.watchlist import (
    LAYOUTS,
    AddEntry,
    Change,
    Layout,
    RemoveEntry,
    SetActive,
    SetIndicators,
    SetInterval,
    SetLayout,
    Watchlist,
    WatchlistError,
    Watchlists,
    apply_change,
    replay,
)

LAYOUT_PANELS: dict[str, int] = {"1": 1, "1x2": 2, "2x2": 4, "3x3": 9}
MAX_PANELS = max(LAYOUT_PANELS.values())


@dataclass(frozen=True, slots=True)
class Edit:
    """What an edit did: the changes the file must get (saved off the loop) and what to tell the user."""

    changes: tuple[Change, ...] = ()
    notice: str = ""
    """Shown once the change is saved."""
    warning: str = ""
    """Why nothing changed."""
    info: str = ""
    """Shown at once (a change of this session's view, which is not saved)."""

    @property
    def changed(self) -> bool:
        """Whether the file must be saved."""
        return bool(self.changes)


VIEW_HINT = "Layout and list are kept for this session; s saves them to the watchlist file"


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

    Instrument edits change `file` (what the watchlist file holds) and return an Edit with the
    changes to save; the layout and the active list are this session's view (`watchlists` =
    `file` + the view) until `save_view` (s): two monitors on one file do not push their layout
    on each other, and a hot reload keeps the view unless the file's own value changed.
    """

    def __init__(self, watchlists: Watchlists, timezone: str = "exchange") -> None:
        self.file = watchlists
        self.layouts: dict[str, str] = {}
        """This session's layout per list, where it differs from the file's."""
        self.active: str | None = None
        """This session's list, when it differs from the file's `active`."""
        self.watchlists = watchlists
        self._hinted = False
        self.timezone = timezone
        self.panels: list[WatchKey | None] = []
        self.selected = 0
        self.focused_panel = 0
        self.paused = False
        self.pending = 0
        """Feed updates that arrived while paused."""
        self.feed_down: str | None = None
        """Why the feed worker died, while it is dead."""
        self.charts = ChartViews()
        """Each panel's cursor, scroll-back and zoom."""
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

    def fill_empty(self) -> Edit:
        """Fills the empty panels with the list's instruments at its next intervals (this session)."""
        empty = [i for i, key in enumerate(self.panels) if key is None]
        entries = self.current.entries
        if not empty or not entries:
            return Edit(info="No empty panel to fill" if not empty else "The list is empty: a adds one")
        cycle = ordered()
        start = cycle.index(self.current.interval) if self.current.interval in cycle else 0
        candidates = (
            WatchKey(entry.id, cycle[(start + step) % len(cycle)])
            for step in range(1, len(cycle))
            for entry in entries
        )
        fresh = (key for key in candidates if key not in self.panels)
        filled = 0
        for index, key in zip(empty, fresh, strict=False):
            self.panels[index] = key
            filled += 1
        return Edit(info=f"Filled {filled} panels with the list's instruments on other intervals")

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
        self.panels[self.focused_panel] = new_key
        if key not in self.current.entries:
            return Edit()
        try:
            # The list already has this id at that interval: the panel just shows that series.
            return self._commit(SetInterval(self.current.name, key, new_key.interval))
        except WatchlistError:
            return Edit()

    def set_indicators(self, specs: tuple[IndicatorSpec, ...]) -> Edit:
        """The focused panel's entry shows `specs` (saved; the list's own when they are the same)."""
        key, current = self.panel(self.focused_panel), self.current
        if key is None or key not in current.entries:
            return Edit(warning="Indicators are saved per watchlist entry: show a row of the list here")
        if specs == current.indicators_for(key):
            return Edit()
        own = None if specs == current.indicators else specs
        names = ", ".join(spec.label for spec in specs) or "none"
        try:
            return self._commit(SetIndicators(current.name, key, own), notice=f"{key.id}: {names}")
        except WatchlistError as exc:
            return Edit(warning=str(exc))

    def add(self, instrument: Instrument) -> Edit:
        """Appends `instrument` at the list's interval and selects it."""
        current = self.current
        try:
            edit = self._commit(
                AddEntry(current.name, WatchKey(instrument.symbol, current.interval)),
                notice=f"Added {instrument.symbol} ({instrument.name})",
            )
        except WatchlistError as exc:
            return Edit(warning=str(exc))
        self.selected = len(current.entries)
        return edit

    def remove(self) -> Edit:
        """Removes the selected row (never the last one)."""
        current = self.current
        if not current.entries:
            return Edit()
        removed = current.entries[self.selected]
        try:
            return self._commit(RemoveEntry(current.name, removed), notice=f"Removed {removed.id}")
        except WatchlistError as exc:
            return Edit(warning=str(exc))

    def cycle_layout(self) -> Edit:
        """The next layout, for this session (s saves it)."""
        name = self.current.name
        self.layouts[name] = next_layout(self.current.layout)
        if self.layouts[name] == self.file.get(name).layout:
            del self.layouts[name]
        self._show_view()
        return self._hint()

    def switch(self, name: str | None) -> Edit:
        """Shows list `name` from its first row and panel, for this session (s saves it)."""
        if name is None or name == self.current.name:
            return Edit()
        self.file.get(name)
        self.active = None if name == self.file.active_list.name else name
        self.selected = self.focused_panel = 0
        self._show_view(reset_panels=True)
        return self._hint()

    def save_view(self) -> list[Change]:
        """The changes that write this session's layouts and list into the file (s)."""
        changes: list[Change] = [SetLayout(name, layout) for name, layout in self.layouts.items()]
        if self.active is not None:
            changes.append(SetActive(self.active))
        self.file, _dropped = replay(self.file, changes)
        self.layouts, self.active = {}, None
        self._show_view()
        return changes

    def reload(self, watchlists: Watchlists, pending: Iterable[Change] = ()) -> None:
        """Takes what the file holds now (changed on disk, or after a save) plus the `pending` changes.

        What is on screen stays unless the active list changed; this session's layout and list
        stay unless the file's own value for them changed.
        """
        old = self.file
        new, _dropped = replay(watchlists, pending)
        names = {item.name for item in new.lists}
        self.layouts = {
            name: layout
            for name, layout in self.layouts.items()
            if name in names
            and name in {w.name for w in old.lists}
            and new.get(name).layout == old.get(name).layout
        }
        if self.active is not None and (self.active not in names or new.active != old.active):
            self.active = None
        self.file = new
        self._show_view()

    def _show_view(self, *, reset_panels: bool = False) -> None:
        before = self.watchlists.active_list.name
        lists = tuple(
            replace(w, layout=cast(Layout, self.layouts[w.name])) if w.name in self.layouts else w
            for w in self.file.lists
        )
        self.watchlists = replace(self.file, lists=lists, active=self.active or self.file.active)
        self.apply(reset_panels=reset_panels or self.watchlists.active_list.name != before)

    def _hint(self) -> Edit:
        if self._hinted:
            return Edit()
        self._hinted = True
        return Edit(info=VIEW_HINT)

    def _commit(self, change: Change, *, notice: str = "") -> Edit:
        """Makes an instrument change in the file's content; WatchlistError when it cannot be made."""
        self.file = apply_change(self.file, change)
        self._show_view()
        return Edit(changes=(change,), notice=notice)

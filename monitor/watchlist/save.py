"""Saving a watchlist file: changes made inside the parsed text (comments kept), atomically, through links."""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tomlkit
from tomlkit.items import AoT, Array, InlineTable, Table

from monitor.files import write_atomically
from monitor.market import Interval, WatchKey
from monitor.watchlist.changes import (
    AddAlert,
    AddEntry,
    Change,
    RemoveAlert,
    RemoveEntry,
    SetActive,
    SetIndicators,
    SetInterval,
    SetLayout,
    replay,
)
from monitor.watchlist.doc import _set_entry_indicators, alert_source, edit_text
from monitor.watchlist.load import parse_watchlists
from monitor.watchlist.model import DEFAULT_INTERVAL, Watchlist, WatchlistError, Watchlists
from monitor.watchlist.readfile import WatchlistMissing, read_watchlist_bytes

_ATTEMPTS = 3
"""Read-change-write rounds when the file changes under a save (an editor saving at that moment)."""


class WatchlistBroken(WatchlistError):
    """The file on disk does not load (the user is editing it): it is never written over."""


class WatchlistReadOnly(WatchlistError):
    """The file is read-only: it is never written over."""


@dataclass(frozen=True, slots=True)
class Saved:
    """What a save left on disk."""

    watchlists: Watchlists
    """What the file holds now (the disk's content with the changes made)."""
    dropped: tuple[str, ...] = ()
    """Why each change that no longer applied to the file was left out."""
    written: bool = True
    """False when the file already held everything."""


def save_changes(
    path: Path, changes: Sequence[Change], *, fallback: Watchlists | None = None, template: Path | None = None
) -> Saved:
    """Makes `changes` in the file as it is on disk now, touching only the edited values.

    A symlink is written through (its target is replaced). A missing file starts from `template`,
    else is written from `fallback`. Blocking: run it in a thread.

    Raises:
        WatchlistBroken: the file does not load; it is left as it is.
        WatchlistReadOnly: the file is read-only; it is left as it is.
        WatchlistError, OSError: the file could not be read or written.
    """
    target = _target(path)
    for _ in range(_ATTEMPTS):
        try:
            raw, info = read_watchlist_bytes(target, shown=path)
        except WatchlistMissing:
            if template is None or not template.is_file():
                if fallback is None:
                    raise
                _write_new(target, fallback)
                return Saved(fallback)
            raw, info = read_watchlist_bytes(template)[0], None
        current = _loaded(raw, path)
        original = raw.decode("utf-8")
        text, expected, dropped = edit_text(original, current, changes)
        if info is not None and text == original:
            return Saved(expected, tuple(dropped), written=False)
        _check(text, expected, path)
        if _write(target, text, info):
            return Saved(expected, tuple(dropped))
    raise WatchlistError(f"{path}: not saved: the file kept changing while it was being saved")


def save_watchlists(path: Path, watchlists: Watchlists) -> None:
    """Writes `watchlists` to `path`, keeping the file's comments and order, atomically.

    The difference from what the file holds is made as changes inside its text, so untouched
    lines stay byte for byte; the new text goes to a temp file next to the (link's target) file,
    is fsynced and replaces it.

    Raises:
        WatchlistBroken, WatchlistReadOnly, WatchlistError, OSError: as `save_changes`.
    """
    target = _target(path)
    for _ in range(_ATTEMPTS):
        try:
            raw, info = read_watchlist_bytes(target, shown=path)
        except WatchlistMissing:
            _write_new(target, watchlists)
            return
        current = _loaded(raw, path)
        if current == watchlists or _write(
            target, _merged(raw.decode("utf-8"), current, watchlists, path), info
        ):
            return
    raise WatchlistError(f"{path}: not saved: the file kept changing while it was being saved")


def _merged(text: str, current: Watchlists, watchlists: Watchlists, path: Path) -> str:
    """`text` (holding `current`) changed to hold `watchlists`, as few bytes changed as can be."""
    changes = diff_changes(current, watchlists)
    if changes is not None:
        try:
            new, _, _ = edit_text(text, current, changes)
            _check(new, watchlists, path)
            return new
        except WatchlistError:
            pass
    # Lists added, removed or renamed: merged table by table (comments of kept lists stay).
    doc = tomlkit.parse(text)
    _apply(doc, watchlists, current)
    return doc.as_string()


def diff_changes(old: Watchlists, new: Watchlists) -> list[Change] | None:
    """The changes that turn `old` into `new`, for the same lists; None when lists differ."""
    if [w.name for w in old.lists] != [w.name for w in new.lists]:
        return None
    changes: list[Change] = []
    for before, after in zip(old.lists, new.lists, strict=True):
        if before.interval != after.interval:
            return None
        made = len(changes)
        if before.layout != after.layout:
            changes.append(SetLayout(after.name, after.layout))
        changes += _alert_removals(before, after)
        matcher = difflib.SequenceMatcher(None, before.entries, after.entries, autojunk=False)
        # From the end, so every index still points where it did in `before`.
        for tag, i1, i2, j1, j2 in reversed(matcher.get_opcodes()):
            olds, news = before.entries[i1:i2], after.entries[j1:j2]
            if tag == "equal":
                continue
            if tag == "replace" and [k.id for k in olds] == [k.id for k in news]:
                changes += [SetInterval(after.name, a, b.interval) for a, b in zip(olds, news, strict=True)]
                continue
            changes += [RemoveEntry(after.name, key) for key in olds]
            changes += [AddEntry(after.name, key, i1 + n) for n, key in enumerate(news)]
        changes += [AddAlert(after.name, rule) for rule in after.alerts if rule not in before.alerts]
        changes += _indicator_changes(before, after, changes[made:])
    if old.active != new.active:
        changes.append(SetActive(new.active))
    return changes


def _alert_removals(before: Watchlist, after: Watchlist) -> list[Change]:
    """Alerts gone or changed (a changed one is removed, then added anew: it is a new rule)."""
    return [RemoveAlert(after.name, rule.id) for rule in before.alerts if rule not in after.alerts]


def _indicator_changes(before: Watchlist, after: Watchlist, made: Sequence[Change]) -> list[Change]:
    """What sets `after`'s indicators once `made` (its entry changes) is applied to `before`."""
    state = replay(Watchlists((before,), before.name), made)[0].lists[0]
    changes: list[Change] = []
    if state.indicators != after.indicators:
        changes.append(SetIndicators(after.name, None, after.indicators))
    held, wanted = dict(state.entry_indicators), dict(after.entry_indicators)
    for key in after.entries:
        if held.get(key) != wanted.get(key):
            changes.append(SetIndicators(after.name, key, wanted.get(key)))
    return changes


def _apply_indicators(table: Table, array: Array, watchlist: Watchlist) -> None:
    """Writes the list's and the entries' indicators where the table holds others."""
    if [str(s) for s in watchlist.indicators] != list(table.get("indicators", [])):
        table["indicators"] = [str(spec) for spec in watchlist.indicators]
    own = dict(watchlist.entry_indicators)
    for position, entry in enumerate(watchlist.entries):
        item, specs = array[position], own.get(entry)
        held = item.get("indicators") if isinstance(item, InlineTable) else None
        if (None if held is None else list(held)) != (None if specs is None else [str(s) for s in specs]):
            _set_entry_indicators(array, position, specs)


def _target(path: Path) -> Path:
    """The file a save replaces: a symlink's final target (a dotfiles repo keeps getting the edits)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _loaded(raw: bytes, path: Path) -> Watchlists:
    try:
        return parse_watchlists(raw, path)
    except WatchlistError as exc:
        raise WatchlistBroken(f"{exc} (the file is not overwritten while it does not load)") from None


def _check(text: str, expected: Watchlists, path: Path) -> None:
    """The new text must load as exactly what was meant, or nothing is written."""
    try:
        ok = parse_watchlists(text.encode("utf-8"), path) == expected
    except WatchlistError:
        ok = False
    if not ok:
        raise WatchlistError(f"{path}: not saved: the change could not be made inside the file's text")


def _write_new(path: Path, watchlists: Watchlists) -> None:
    doc = tomlkit.document()
    _apply(doc, watchlists)
    _write(path, doc.as_string(), None)


def _apply(doc: tomlkit.TOMLDocument, watchlists: Watchlists, current: Watchlists | None = None) -> None:
    if doc.get("active") != watchlists.active:
        doc["active"] = watchlists.active
    tables = doc.get("lists")
    if not isinstance(tables, AoT):
        tables = tomlkit.aot()
        doc["lists"] = tables
    by_name = {str(t.get("name")): t for t in tables if isinstance(t, Table)}
    wanted = {w.name for w in watchlists.lists}
    for i in reversed(range(len(tables))):
        if str(tables[i].get("name")) not in wanted:
            del tables[i]
    for watchlist in watchlists.lists:
        table = by_name.get(watchlist.name)
        if table is None:
            table = tomlkit.table()
            table["name"] = watchlist.name
            tables.append(table)
            table = tables[-1]
        _apply_list(table, watchlist)
        _apply_alerts(table, watchlist, current)


def _apply_list(table: Table, watchlist: Watchlist) -> None:
    if table.get("layout", "2x2") != watchlist.layout:
        table["layout"] = watchlist.layout
    if _interval_or_none(table.get("interval", DEFAULT_INTERVAL.code)) != watchlist.interval:
        table["interval"] = watchlist.interval.code
    array = table.get("instruments")
    if not isinstance(array, Array):
        array = tomlkit.array()
        table["instruments"] = array
        array = table["instruments"]
    existing = [_entry_of(item, watchlist.interval) for item in array]
    keep = _lcs(existing, list(watchlist.entries))
    # Delete what is not kept (from the end so indexes stay valid), then insert what is new.
    for i in reversed(range(len(existing))):
        if i not in keep:
            del array[i]
    kept_new = set(keep.values())
    for j, entry in enumerate(watchlist.entries):
        if j not in kept_new:
            array.insert(j, _item_of(entry, watchlist.interval))
    _apply_indicators(table, array, watchlist)


def _apply_alerts(table: Table, watchlist: Watchlist, current: Watchlists | None) -> None:
    """Writes the list's alerts array anew when its rules changed (kept as written otherwise)."""
    held = next((w.alerts for w in current.lists if w.name == watchlist.name), ()) if current else ()
    if held == watchlist.alerts:
        return
    array = tomlkit.array()
    for rule in watchlist.alerts:
        item = tomlkit.parse(f"v = {alert_source(rule)}\n")["v"]
        array.append(item)
    if watchlist.alerts:
        array.multiline(True)
    table["alerts"] = array


def _interval_or_none(value: object) -> Interval | None:
    try:
        return Interval.parse(str(value))
    except ValueError:
        return None


def _entry_of(item: object, default: Interval) -> WatchKey | None:
    if isinstance(item, str):
        return WatchKey(id=str(item), interval=default)
    if isinstance(item, InlineTable | dict) and "id" in item:
        interval = _interval_or_none(item.get("interval", default.code)) or default
        return WatchKey(id=str(item["id"]), interval=interval)
    return None


def _item_of(entry: WatchKey, default: Interval) -> str | InlineTable:
    if entry.interval == default:
        return entry.id
    table = tomlkit.inline_table()
    table.update({"id": entry.id, "interval": entry.interval.code})
    return table


def _lcs(old: list[WatchKey | None], new: list[WatchKey]) -> dict[int, int]:
    """A common subsequence as {old index: new index}: the items that can stay in place.

    difflib's matcher, not a full LCS table: the table was quadratic (seconds for a 1,000-item
    list), and keeping a few more lines than strictly needed only costs comments on moved items.
    """
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    return {block.a + k: block.b + k for block in matcher.get_matching_blocks() for k in range(block.size)}


def _write(path: Path, text: str, read: os.stat_result | None) -> bool:
    """Atomically replaces `path` with `text`; False (nothing written) when it changed since `read`.

    Raises:
        WatchlistReadOnly: the file is read-only (for root too: the mode is the user's intent).
    """
    if read is not None:
        writable = os.access(path, os.W_OK) and not (
            read.st_uid == os.geteuid() and not read.st_mode & stat.S_IWUSR
        )
        if not writable:
            raise WatchlistReadOnly(f"{path}: the file is read-only; it is not overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    if read is None:
        return write_atomically(path, text, 0o644)
    # The file keeps its mode; an editor's save in the meantime wins (the caller reads again).
    mode = stat.S_IMODE(read.st_mode)
    return write_atomically(path, text, mode, abandon_if=lambda: _changed_since(path, read))


def _changed_since(path: Path, read: os.stat_result) -> bool:
    try:
        now = path.stat()
    except FileNotFoundError:
        return False
    return (now.st_ino, now.st_size, now.st_mtime_ns) != (read.st_ino, read.st_size, read.st_mtime_ns)

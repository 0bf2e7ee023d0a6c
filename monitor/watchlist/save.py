"""Saving a watchlist file: the edits merged into the parsed document (comments kept), atomically."""

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path

import tomlkit
from tomlkit.items import AoT, Array, InlineTable, Table

from monitor.market import Interval, WatchKey
from monitor.watchlist.model import DEFAULT_INTERVAL, Watchlist, Watchlists


def save_watchlists(path: Path, watchlists: Watchlists) -> None:
    """Writes `watchlists` to `path`, keeping the file's comments and order, atomically.

    The changes are applied into the parsed document (tomlkit) so untouched lines stay as written;
    the new text goes to a temp file in the same directory, is fsynced and replaces the old one.
    """
    try:
        old = path.read_text(encoding="utf-8")
        doc = tomlkit.parse(old)
    except FileNotFoundError:
        doc = tomlkit.document()
    except (OSError, UnicodeDecodeError, tomlkit.exceptions.TOMLKitError):
        # A broken file cannot be merged into; it is replaced by a clean one.
        doc = tomlkit.document()
    _apply(doc, watchlists)
    _atomic_write(path, doc.as_string())


def _apply(doc: tomlkit.TOMLDocument, watchlists: Watchlists) -> None:
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


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

"""Watchlists: TOML models, loading with file:line:field errors, comment-keeping atomic save."""

from __future__ import annotations

import difflib
import os
import re
import tempfile
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any, Literal, cast, get_args

import tomlkit
from tomlkit.items import AoT, Array, InlineTable, Table

from monitor.market import Interval, WatchKey
from monitor.tomlpos import find_line

Layout = Literal["1", "1x2", "2x2", "3x3"]
LAYOUTS: tuple[str, ...] = get_args(Layout)
DEFAULT_INTERVAL = Interval.M1
_TOP_KEYS = ("active", "lists")
_LIST_KEYS = ("name", "layout", "interval", "instruments")
_ENTRY_KEYS = ("id", "interval")
_UID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_FIGI = re.compile(r"[A-Z0-9]{12}")
_TICKER_CLASS = re.compile(r"(?P<ticker>[A-Za-z0-9.@\-_]+)_(?P<class_code>[A-Z0-9]+)")


class WatchlistError(Exception):
    """A watchlist file or edit is invalid; the message names file, line and field."""


class IdKind(Enum):
    """How an instrument id is looked up (InstrumentIdType)."""

    UID = "uid"
    FIGI = "figi"
    TICKER = "ticker"


def classify_id(instrument_id: str) -> tuple[IdKind, str, str]:
    """Returns (kind, id, class_code) for a uid, a FIGI or TICKER_CLASSCODE; ValueError otherwise."""
    if _UID.fullmatch(instrument_id):
        return IdKind.UID, instrument_id, ""
    if _FIGI.fullmatch(instrument_id):
        return IdKind.FIGI, instrument_id, ""
    match = _TICKER_CLASS.fullmatch(instrument_id)
    if match:
        return IdKind.TICKER, match["ticker"], match["class_code"]
    raise ValueError(
        f"instrument {instrument_id!r} is not TICKER_CLASSCODE (e.g. SBER_TQBR), a FIGI or a uid"
    )


@dataclass(frozen=True)
class Watchlist:
    """A named list of instruments and how its panels are laid out."""

    name: str
    layout: Layout = "2x2"
    interval: Interval = DEFAULT_INTERVAL
    """Interval of entries that do not name their own."""
    entries: tuple[WatchKey, ...] = ()


@dataclass(frozen=True)
class Watchlists:
    """Every watchlist of a file and which one is shown."""

    lists: tuple[Watchlist, ...] = field(default_factory=tuple)
    active: str = ""
    """Name of the active list ("" = the first)."""

    @property
    def active_list(self) -> Watchlist:
        """The list to show."""
        for item in self.lists:
            if item.name == self.active:
                return item
        if not self.lists:
            raise WatchlistError("there are no watchlists")
        return self.lists[0]

    def get(self, name: str) -> Watchlist:
        """The list called `name`; WatchlistError when there is none."""
        for item in self.lists:
            if item.name == name:
                return item
        raise WatchlistError(f"no watchlist named {name!r}")


# ---------------------------------------------------------------- loading


class _Checker:
    """Turns raw TOML data into models, raising WatchlistError at file:line: field."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def fail(self, loc: Sequence[str | int], message: str) -> WatchlistError:
        line = find_line(self.text, loc) or 1
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".") or "file"
        return WatchlistError(f"{self.path}:{line}: {where}: {message}")

    def keys(self, data: dict[str, Any], allowed: Sequence[str], loc: list[str | int]) -> None:
        for key in data:
            if key not in allowed:
                raise self.fail([*loc, key], f"unknown key {key!r}; expected one of {', '.join(allowed)}")

    def string(self, value: object, loc: list[str | int]) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(loc, f"expected a non-empty string, got {_describe(value)}")
        return value.strip()

    def interval(self, value: object, loc: list[str | int]) -> Interval:
        text = self.string(value, loc)
        try:
            return Interval.parse(text)
        except ValueError as exc:
            raise self.fail(loc, str(exc)) from None

    def watchlists(self, data: dict[str, Any]) -> Watchlists:
        self.keys(data, _TOP_KEYS, [])
        raw_lists = data.get("lists")
        if not isinstance(raw_lists, list) or not raw_lists:
            raise self.fail(["lists"], "expected at least one [[lists]] table")
        lists = tuple(self.watchlist(raw, ["lists", i]) for i, raw in enumerate(raw_lists))
        names = [item.name for item in lists]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise self.fail(["lists", i, "name"], f"duplicate list name {name!r}")
        active = names[0]
        if "active" in data:
            active = self.string(data["active"], ["active"])
            if active not in names:
                raise self.fail(["active"], f"no list named {active!r}; lists are {', '.join(names)}")
        return Watchlists(lists=lists, active=active)

    def watchlist(self, raw: object, loc: list[str | int]) -> Watchlist:
        if not isinstance(raw, dict):
            raise self.fail(loc, f"expected a table, got {_describe(raw)}")
        self.keys(raw, _LIST_KEYS, loc)
        if "name" not in raw:
            raise self.fail(loc, "missing key 'name'")
        name = self.string(raw["name"], [*loc, "name"])
        layout = self.string(raw.get("layout", "2x2"), [*loc, "layout"])
        if layout not in LAYOUTS:
            raise self.fail(
                [*loc, "layout"], f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}"
            )
        interval = self.interval(raw.get("interval", DEFAULT_INTERVAL.code), [*loc, "interval"])
        instruments = raw.get("instruments")
        if not isinstance(instruments, list) or not instruments:
            raise self.fail([*loc, "instruments"], "expected a non-empty array of instruments")
        entries: list[WatchKey] = []
        seen: set[WatchKey] = set()  # a set: `in entries` made 1,000-instrument files quadratic
        for i, item in enumerate(instruments):
            entry = self.entry(item, interval, [*loc, "instruments", i])
            if entry in seen:
                raise self.fail(
                    [*loc, "instruments", i], f"duplicate instrument {entry.id} at {entry.interval.code}"
                )
            seen.add(entry)
            entries.append(entry)
        return Watchlist(name=name, layout=cast(Layout, layout), interval=interval, entries=tuple(entries))

    def entry(self, item: object, default: Interval, loc: list[str | int]) -> WatchKey:
        if isinstance(item, dict):
            self.keys(item, _ENTRY_KEYS, loc)
            if "id" not in item:
                raise self.fail(loc, "missing key 'id'")
            ident = self.instrument_id(item["id"], [*loc, "id"])
            interval = self.interval(item["interval"], [*loc, "interval"]) if "interval" in item else default
            return WatchKey(id=ident, interval=interval)
        if isinstance(item, str):
            return WatchKey(id=self.instrument_id(item, loc), interval=default)
        raise self.fail(
            loc, f"expected an id string or {{ id = ..., interval = ... }}, got {_describe(item)}"
        )

    def instrument_id(self, value: object, loc: list[str | int]) -> str:
        ident = self.string(value, loc)
        try:
            classify_id(ident)
        except ValueError as exc:
            raise self.fail(loc, str(exc)) from None
        return ident


def _describe(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a float", list: "an array", dict: "a table"}
    if isinstance(value, str):
        return "an empty string"
    return names.get(type(value), type(value).__name__)


def load_watchlists(path: Path) -> Watchlists:
    """Reads and validates a watchlist file.

    Raises:
        WatchlistError: with `FILE:LINE: FIELD: what is wrong` for any problem, never anything else.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise WatchlistError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_watchlists(raw, path)


def parse_watchlists(raw: bytes, path: Path) -> Watchlists:
    """Validates watchlist TOML bytes; `path` is only used in messages."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise WatchlistError(f"{path}:{line}: file: not valid UTF-8 (byte {exc.start})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "", str(exc))
        line = int(match[1]) if match else text.count("\n") + 1
        raise WatchlistError(f"{path}:{line}: file: invalid TOML: {reason}") from None
    except (ValueError, RecursionError) as exc:  # tomllib may raise these on pathological input
        raise WatchlistError(f"{path}:1: file: invalid TOML: {exc}") from None
    return _Checker(path, text).watchlists(data)


# ------------------------------------------------ editing (pure: each returns a new Watchlists)


def _with_list(watchlists: Watchlists, name: str, changed: Watchlist) -> Watchlists:
    watchlists.get(name)
    return replace(watchlists, lists=tuple(changed if w.name == name else w for w in watchlists.lists))


def _check_entries(entries: Sequence[WatchKey]) -> None:
    seen: set[WatchKey] = set()
    for entry in entries:
        if entry in seen:
            raise WatchlistError(f"{entry.id} at {entry.interval.code} is already in the list")
        seen.add(entry)


def add_entry(
    watchlists: Watchlists, name: str, entry: WatchKey | str, index: int | None = None
) -> Watchlists:
    """Adds an instrument to list `name` (at `index`, default the end); an id gets the list interval."""
    current = watchlists.get(name)
    if isinstance(entry, str):
        entry = WatchKey(id=entry, interval=current.interval)
    try:
        classify_id(entry.id)
    except ValueError as exc:
        raise WatchlistError(str(exc)) from None
    entries = list(current.entries)
    entries.insert(len(entries) if index is None else index, entry)
    _check_entries(entries)
    return _with_list(watchlists, name, replace(current, entries=tuple(entries)))


def remove_entry(watchlists: Watchlists, name: str, index: int) -> Watchlists:
    """Removes the entry at `index`; the last entry of a list cannot be removed."""
    current = watchlists.get(name)
    if len(current.entries) <= 1:
        raise WatchlistError(f"list {name!r} needs at least one instrument")
    entries = current.entries[:index] + current.entries[index + 1 :]
    return _with_list(watchlists, name, replace(current, entries=entries))


def set_entry_interval(watchlists: Watchlists, name: str, index: int, interval: Interval) -> Watchlists:
    """Changes the interval of one entry."""
    current = watchlists.get(name)
    entries = list(current.entries)
    entries[index] = replace(entries[index], interval=interval)
    _check_entries(entries)
    return _with_list(watchlists, name, replace(current, entries=tuple(entries)))


def set_layout(watchlists: Watchlists, name: str, layout: str) -> Watchlists:
    """Sets a list's panel layout ("1", "1x2", "2x2" or "3x3")."""
    if layout not in LAYOUTS:
        raise WatchlistError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    current = watchlists.get(name)
    return _with_list(watchlists, name, replace(current, layout=cast(Layout, layout)))


def set_active(watchlists: Watchlists, name: str) -> Watchlists:
    """Makes list `name` the active one."""
    watchlists.get(name)
    return replace(watchlists, active=name)


# ---------------------------------------------------------------- saving


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

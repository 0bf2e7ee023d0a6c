"""A change made inside the TOML text (tomlkit): the edited value changes, every other byte stays."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import tomlkit
from tomlkit import TOMLDocument
from tomlkit.items import Array, InlineTable, Item, String, StringType, Table

from monitor.alerts.rules import AlertRule, derived_id
from monitor.market import Interval, WatchKey
from monitor.market.indicators import IndicatorSpec
from monitor.watchlist.changes import (
    AddAlert,
    AddEntry,
    Change,
    RemoveAlert,
    RemoveEntry,
    SetActive,
    SetIndicators,
    SetLayout,
    apply_change,
)
from monitor.watchlist.model import WatchlistError, Watchlists


def edit_text(text: str, current: Watchlists, changes: Sequence[Change]) -> tuple[str, Watchlists, list[str]]:
    """`text` (which parses to `current`) with each change that applies made, parsed once.

    Returns the new text, what it holds, and why each change that did not apply was dropped.
    """
    doc = tomlkit.parse(text)
    dropped: list[str] = []
    for change in changes:
        try:
            changed = apply_change(current, change)
            doc = edit_document(doc, current, change)
        except WatchlistError as exc:
            dropped.append(str(exc))
            continue
        current = changed
    return doc.as_string(), current, dropped


def edit_document(doc: TOMLDocument, current: Watchlists, change: Change) -> TOMLDocument:
    """Makes `change` inside `doc` (which holds `current`); WatchlistError when it does not apply."""
    if isinstance(change, SetActive):
        if "active" in doc:
            doc["active"] = _like(doc["active"], change.name)
            return doc
        return tomlkit.parse(_insert_active(doc.as_string(), change.name))
    names = [item.name for item in current.lists]
    if change.list not in names:
        raise WatchlistError(f"no watchlist named {change.list!r}")
    index = names.index(change.list)
    # The text parsed to `current`: `lists` is an array of tables (or of inline tables).
    tables: Any = doc["lists"]
    table: Any = tables[index]
    watchlist = current.lists[index]
    if isinstance(change, SetLayout):
        _set_layout(table, change.layout)
        return doc
    if isinstance(change, AddAlert | RemoveAlert | RemoveEntry):
        _edit_alerts(table, current, change)
        if not isinstance(change, RemoveEntry):
            return doc
    if isinstance(change, SetIndicators) and change.key is None:
        _set_list_indicators(table, change.specs or ())
        return doc
    array = table["instruments"]
    if not isinstance(array, Array):
        raise WatchlistError(f"list {change.list!r}: instruments is not an array")
    if isinstance(change, AddEntry):
        item = _entry_item(change.key, watchlist.interval)
        if change.index is None or change.index >= len(array):
            array.append(item)
        else:
            array.insert(change.index, item)
        return doc
    key = change.key
    if key is None:  # a list's indicators were set above
        raise WatchlistError(f"list {change.list!r}: no entry named")
    if key not in watchlist.entries:
        raise WatchlistError(f"{key.id} at {key.interval.code} is no longer in {change.list!r}")
    position = watchlist.entries.index(key)
    if isinstance(change, RemoveEntry):
        del array[position]
    elif isinstance(change, SetIndicators):
        _set_entry_indicators(array, position, change.specs)
    else:
        _set_interval(array, position, change.interval)
    return doc


def _like(old: object, value: str) -> String:
    """`value` as a string written the way `old` was (a 'literal' stays literal)."""
    literal = isinstance(old, String) and old.type in (StringType.SLL, StringType.MLL)
    return tomlkit.string(value, literal=literal)


def _parse_value(source: str) -> Item:
    item = tomlkit.parse(f"v = {source}\n")["v"]
    assert isinstance(item, Item)
    return item


def _entry_item(key: WatchKey, default: Interval) -> str | Item:
    """A new entry written as the README and the shipped example write them."""
    if key.interval == default:
        return key.id
    return _parse_value(f"{{ id = {_quoted(key.id)}, interval = {_quoted(key.interval.code)} }}")


def _quoted(value: str) -> str:
    return tomlkit.string(value).as_string()


def _set_interval(array: Array, position: int, interval: Interval) -> None:
    item = array[position]
    if isinstance(item, InlineTable):
        if "interval" in item:
            # In place: the table's spacing, the key order and the line's comment stay.
            item["interval"] = _like(item["interval"], interval.code)
            return
        new = _inline_with(item.as_string(), "interval", _quoted(interval.code))
    else:
        new = _parse_value(f"{{ id = {item.as_string()}, interval = {_quoted(interval.code)} }}")
    _replace_keeping_comment_column(array, position, item.as_string(), new)


def _inline_with(source: str, key: str, value: str) -> Item:
    """`{ id = "X" }` with `, key = value` just before its closing brace, spacing kept."""
    match = re.search(r"\s*\}\s*$", source)
    cut = match.start() if match else len(source)
    return _parse_value(f"{source[:cut]}, {key} = {value}{source[cut:]}")


def _specs_array(specs: Sequence[IndicatorSpec]) -> Array:
    array = tomlkit.array()
    array.extend(str(spec) for spec in specs)
    return array


def _set_list_indicators(table: Table | InlineTable, specs: Sequence[IndicatorSpec]) -> None:
    if "indicators" in table:
        table["indicators"] = _specs_array(specs)  # in place: the line's comment stays
    elif specs and not _insert_after_name(table.value, _specs_array(specs), "indicators"):
        table["indicators"] = _specs_array(specs)


def _set_entry_indicators(array: Array, position: int, specs: Sequence[IndicatorSpec] | None) -> None:
    item = array[position]
    if isinstance(item, InlineTable) and "indicators" in item:
        if specs is not None:
            item["indicators"] = _specs_array(specs)
            return
        # Cut from the text (tomlkit's del leaves the separator's spaces); specs hold no bracket.
        source = item.as_string()
        for pattern in (r",\s*indicators\s*=\s*\[[^\]]*\]", r"indicators\s*=\s*\[[^\]]*\]\s*,\s*"):
            cut = re.sub(pattern, "", source, count=1)
            if cut != source:
                _replace_keeping_comment_column(array, position, source, _parse_value(cut))
                return
        del item["indicators"]
        return
    if specs is None:
        return
    value = _specs_array(specs).as_string()
    if isinstance(item, InlineTable):
        new = _inline_with(item.as_string(), "indicators", value)
    else:
        new = _parse_value(f"{{ id = {item.as_string()}, indicators = {value} }}")
    _replace_keeping_comment_column(array, position, item.as_string(), new)


def _replace_keeping_comment_column(array: Array, position: int, old_source: str, new: Item) -> None:
    """Replaces element `position`; the line's comment stays where it was when there is room."""
    array[position] = new
    groups: list[Any] = [g for g in getattr(array, "_value", []) if getattr(g, "value", None) is new]
    comment = groups[0].comment if groups else None
    trivia = getattr(comment, "trivia", None)
    indent = getattr(trivia, "indent", None)
    if trivia is None or not isinstance(indent, str):
        return
    grown = len(new.as_string()) - len(old_source)
    if grown > 0 and indent.strip(" ") == "":
        # Padding absorbs the growth; without room the comment keeps two spaces, as written by hand.
        trivia.indent = " " * max(len(indent) - grown, min(len(indent), 2))


def _set_layout(table: Table | InlineTable, layout: str) -> None:
    if "layout" in table:
        table["layout"] = _like(table["layout"], layout)
        return
    if "name" in table and _insert_after_name(table.value, layout):
        return
    table["layout"] = layout


def _insert_after_name(container: Any, layout: object, key: str = "layout") -> bool:
    """Puts `layout` (or `key`) right after `name`; False when this tomlkit offers no way to (then it is
    appended: still correct, only less tidy). Appended at the table's end it would sit after the
    blank line and the comments that belong to the next table.

    tomlkit has no public insert-at-position: `_insert_after` (up to 0.15.2) or `_insert_at` with
    the key's body index (0.15.3) are used when present; the save's parse-back check stands
    behind either.
    """
    try:
        insert_after = getattr(container, "_insert_after", None)
        if insert_after is not None:
            insert_after("name", key, layout)
            return True
        insert_at, index = getattr(container, "_insert_at", None), getattr(container, "_map", {}).get("name")
        if insert_at is not None and isinstance(index, int):
            insert_at(index + 1, key, layout)
            return True
    except (AttributeError, KeyError, TypeError, ValueError):
        pass
    return False


_LISTS_HEADER = re.compile(r"^[ \t]*\[\[[ \t]*lists[ \t]*\]\]", re.MULTILINE)


def _insert_active(text: str, name: str) -> str:
    """A new top-level key goes above the first [[lists]] and the comment lines that introduce it."""
    header = _LISTS_HEADER.search(text)
    lines = text[: header.start() if header else 0].splitlines(keepends=True)
    cut = len(lines)
    while cut > 0 and lines[cut - 1].lstrip().startswith("#"):
        cut -= 1
    at = sum(len(line) for line in lines[:cut])
    return f"{text[:at]}active = {_quoted(name)}\n\n{text[at:]}"


def _edit_alerts(table: Any, current: Watchlists, change: AddAlert | RemoveAlert | RemoveEntry) -> None:
    """Adds or removes an alert's inline table; a removed instrument's alerts go with it."""
    before = current.get(change.list).alerts
    after = apply_change(current, change).get(change.list).alerts
    if isinstance(change, AddAlert):
        if "alerts" not in table:
            table["alerts"] = tomlkit.array()
        array = table["alerts"]
        if not isinstance(array, Array):
            raise WatchlistError(f"list {change.list!r}: alerts is not an array")
        array.append(_parse_value(alert_source(after[-1])))
        return
    kept = {rule.id for rule in after}
    array = table.get("alerts")
    for position in reversed(range(len(before))):
        if before[position].id not in kept and isinstance(array, Array):
            del array[position]


def alert_source(rule: AlertRule) -> str:
    """A rule as the inline table the README writes: only the fields that are not the default."""
    fields = [f"instrument = {_quoted(rule.instrument)}", f"when = {_quoted(rule.when)}"]
    fields.append(f"mode = {_quoted(rule.mode)}")
    if rule.interval_given:
        fields.append(f"interval = {_quoted(rule.interval.code)}")
    if rule.hysteresis is not None:
        fields.append(f"hysteresis = {rule.hysteresis!r}")
    if rule.note:
        fields.append(f"note = {_quoted(rule.note)}")
    if rule.id != derived_id(rule.instrument, rule.condition):
        fields.append(f"id = {_quoted(rule.id)}")
    return "{ " + ", ".join(fields) + " }"

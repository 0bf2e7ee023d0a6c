"""Watchlist models and their edits: instrument ids, lists, layouts (each edit returns a new value)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Literal, cast, get_args

from monitor.alerts.rules import AlertRule
from monitor.market import Interval, WatchKey
from monitor.market.indicators import IndicatorSpec

Layout = Literal["1", "1x2", "2x2", "3x3"]
LAYOUTS: tuple[str, ...] = get_args(Layout)
DEFAULT_INTERVAL = Interval.M1
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
    alerts: tuple[AlertRule, ...] = ()
    """Alert rules on the list's instruments, in file order."""
    indicators: tuple[IndicatorSpec, ...] = ()
    """Indicators of the list's panels (an entry's own list replaces it)."""
    entry_indicators: tuple[tuple[WatchKey, tuple[IndicatorSpec, ...]], ...] = ()
    """The entries that have their own `indicators` (possibly empty: none at all), with them."""

    def indicators_for(self, key: WatchKey) -> tuple[IndicatorSpec, ...]:
        """The indicators a panel showing `key` draws: the entry's own, else the list's."""
        for entry, specs in self.entry_indicators:
            if entry == key:
                return specs
        return self.indicators


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

    @property
    def alerts(self) -> tuple[AlertRule, ...]:
        """Every list's alert rules (ids are unique across the file)."""
        return tuple(rule for item in self.lists for rule in item.alerts)

    def get(self, name: str) -> Watchlist:
        """The list called `name`; WatchlistError when there is none."""
        for item in self.lists:
            if item.name == name:
                return item
        raise WatchlistError(f"no watchlist named {name!r}")


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
    return _with_list(watchlists, name, _with_entries(current, entries))


def remove_entry(watchlists: Watchlists, name: str, index: int) -> Watchlists:
    """Removes the entry at `index`; the last entry of a list cannot be removed."""
    current = watchlists.get(name)
    if len(current.entries) <= 1:
        raise WatchlistError(f"list {name!r} needs at least one instrument")
    entries = current.entries[:index] + current.entries[index + 1 :]
    own = _rekeyed(current, current.entries[index], None)
    return _with_list(
        watchlists, name, _with_entries(replace(current, entry_indicators=own), entries, drop=True)
    )


def set_entry_interval(watchlists: Watchlists, name: str, index: int, interval: Interval) -> Watchlists:
    """Changes the interval of one entry."""
    current = watchlists.get(name)
    entries = list(current.entries)
    old, entries[index] = entries[index], replace(entries[index], interval=interval)
    _check_entries(entries)
    own = _rekeyed(current, old, entries[index])
    return _with_list(watchlists, name, _with_entries(replace(current, entry_indicators=own), entries))


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


# ------------------------------------------------ alerts (kept on their instruments)


def entry_interval(entries: Sequence[WatchKey], instrument: str) -> Interval | None:
    """The interval an alert on `instrument` reads when it names none: its first entry's."""
    return next((e.interval for e in entries if e.id == instrument), None)


def orphan_reason(rule: AlertRule, entries: Sequence[WatchKey]) -> str | None:
    """Why `rule` cannot stay in a list holding `entries` (None: it can)."""
    if all(e.id != rule.instrument for e in entries):
        return f"instrument {rule.instrument} is not in the list"
    if rule.interval_given and WatchKey(rule.instrument, rule.interval) not in entries:
        return f"{rule.instrument} is not in the list at {rule.interval.code}"
    return None


def _with_entries(current: Watchlist, entries: Sequence[WatchKey], *, drop: bool = False) -> Watchlist:
    """The list with new entries; its alerts follow them (a removed instrument's alerts go with it,
    an alert would otherwise lose its series: WatchlistError)."""
    alerts = []
    for rule in current.alerts:
        reason = orphan_reason(rule, entries)
        if reason is not None:
            if drop:
                continue
            raise WatchlistError(f"alert {rule.id!r}: {reason}; change or remove the alert first")
        interval = rule.interval if rule.interval_given else entry_interval(entries, rule.instrument)
        alerts.append(replace(rule, interval=interval) if interval is not None else rule)
    return replace(current, entries=tuple(entries), alerts=tuple(alerts))


def add_alert(watchlists: Watchlists, name: str, rule: AlertRule) -> Watchlists:
    """Adds an alert rule to list `name` (its instrument must be in the list, its id new)."""
    current = watchlists.get(name)
    reason = orphan_reason(rule, current.entries)
    if reason is not None:
        raise WatchlistError(f"alert {rule.id!r}: {reason}")
    if any(r.id == rule.id for r in watchlists.alerts):
        raise WatchlistError(f"there is already an alert with id {rule.id!r}")
    if not rule.interval_given:
        rule = replace(rule, interval=entry_interval(current.entries, rule.instrument) or rule.interval)
    return _with_list(watchlists, name, replace(current, alerts=(*current.alerts, rule)))


def remove_alert(watchlists: Watchlists, name: str, rule_id: str) -> Watchlists:
    """Removes the alert `rule_id` from list `name`."""
    current = watchlists.get(name)
    kept = tuple(r for r in current.alerts if r.id != rule_id)
    if len(kept) == len(current.alerts):
        raise WatchlistError(f"no alert {rule_id!r} in list {name!r}")
    return _with_list(watchlists, name, replace(current, alerts=kept))


def _rekeyed(
    current: Watchlist, old: WatchKey, new: WatchKey | None
) -> tuple[tuple[WatchKey, tuple[IndicatorSpec, ...]], ...]:
    """The list's entry indicators with `old`'s moved to `new` (dropped when None): they live in
    the entry's table, so they follow it."""
    own = ((new, specs) if key == old else (key, specs) for key, specs in current.entry_indicators)
    return tuple((key, specs) for key, specs in own if key is not None)


def set_indicators(
    watchlists: Watchlists, name: str, key: WatchKey | None, specs: Sequence[IndicatorSpec] | None
) -> Watchlists:
    """Sets the indicators of list `name` (key None) or of its entry `key` (specs None: the entry
    goes back to the list's)."""
    current = watchlists.get(name)
    if key is None:
        return _with_list(watchlists, name, replace(current, indicators=tuple(specs or ())))
    if key not in current.entries:
        raise WatchlistError(f"{key.id} at {key.interval.code} is no longer in list {name!r}")
    own = [(k, v) for k, v in current.entry_indicators if k != key]
    if specs is not None:
        own.append((key, tuple(specs)))
        own.sort(key=lambda pair: current.entries.index(pair[0]))
    return _with_list(watchlists, name, replace(current, entry_indicators=tuple(own)))

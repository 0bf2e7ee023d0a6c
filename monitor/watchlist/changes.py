"""Watchlist changes as operations (by key, not by snapshot), so they can be replayed onto a newer file."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from monitor.alerts.rules import AlertRule
from monitor.market import Interval, WatchKey
from monitor.market.indicators import IndicatorSpec
from monitor.watchlist.model import (
    WatchlistError,
    Watchlists,
    add_alert,
    add_entry,
    remove_alert,
    remove_entry,
    set_active,
    set_entry_interval,
    set_indicators,
    set_layout,
)


@dataclass(frozen=True, slots=True)
class SetInterval:
    """Entry `key` of list `list` moves to `interval`."""

    list: str
    key: WatchKey
    interval: Interval


@dataclass(frozen=True, slots=True)
class AddEntry:
    """`key` is inserted into list `list` at `index` (None: at the end)."""

    list: str
    key: WatchKey
    index: int | None = None


@dataclass(frozen=True, slots=True)
class RemoveEntry:
    """Entry `key` leaves list `list`."""

    list: str
    key: WatchKey


@dataclass(frozen=True, slots=True)
class SetLayout:
    """List `list` is laid out as `layout`."""

    list: str
    layout: str


@dataclass(frozen=True, slots=True)
class SetActive:
    """List `name` is the one shown at start."""

    name: str


@dataclass(frozen=True, slots=True)
class AddAlert:
    """Alert `rule` is appended to list `list` (its instrument must be in the list)."""

    list: str
    rule: AlertRule


@dataclass(frozen=True, slots=True)
class RemoveAlert:
    """Alert `rule_id` leaves list `list`."""

    list: str
    rule_id: str


@dataclass(frozen=True, slots=True)
class SetIndicators:
    """List `list` (key None) or its entry `key` shows `specs` (None: the entry takes the list's)."""

    list: str
    key: WatchKey | None
    specs: tuple[IndicatorSpec, ...] | None


Change = SetInterval | AddEntry | RemoveEntry | SetLayout | SetActive | SetIndicators | AddAlert | RemoveAlert


def _index(watchlists: Watchlists, name: str, key: WatchKey) -> int:
    entries = watchlists.get(name).entries
    if key not in entries:
        raise WatchlistError(f"{key.id} at {key.interval.code} is no longer in list {name!r}")
    return entries.index(key)


def apply_change(watchlists: Watchlists, change: Change) -> Watchlists:
    """The watchlists with `change` made; WatchlistError when it no longer applies."""
    match change:
        case SetInterval(name, key, interval):
            return set_entry_interval(watchlists, name, _index(watchlists, name, key), interval)
        case AddEntry(name, key, index):
            return add_entry(watchlists, name, key, index)
        case RemoveEntry(name, key):
            return remove_entry(watchlists, name, _index(watchlists, name, key))
        case SetLayout(name, layout):
            return set_layout(watchlists, name, layout)
        case SetActive(name):
            return set_active(watchlists, name)
        case AddAlert(name, rule):
            return add_alert(watchlists, name, rule)
        case RemoveAlert(name, rule_id):
            return remove_alert(watchlists, name, rule_id)
        case SetIndicators(name, key, specs):
            return set_indicators(watchlists, name, key, specs)


def replay(watchlists: Watchlists, changes: Iterable[Change]) -> tuple[Watchlists, list[str]]:
    """Makes each change that still applies; (the result, why each of the others was dropped)."""
    dropped: list[str] = []
    for change in changes:
        try:
            watchlists = apply_change(watchlists, change)
        except WatchlistError as exc:
            dropped.append(str(exc))
    return watchlists, dropped

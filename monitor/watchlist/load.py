"""Loading a watchlist file: TOML to models, with FILE:LINE: FIELD errors."""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from monitor.alerts.rules import MODES, AlertRule, RuleError, make_rule, parse_when
from monitor.market import Interval, WatchKey
from monitor.market.indicators import IndicatorSpec, IndicatorSpecError, parse_indicator
from monitor.tomlpos import find_line
from monitor.watchlist.model import (
    DEFAULT_INTERVAL,
    LAYOUTS,
    Layout,
    Watchlist,
    WatchlistError,
    Watchlists,
    classify_id,
    entry_interval,
    orphan_reason,
)
from monitor.watchlist.readfile import read_watchlist_bytes

_TOP_KEYS = ("active", "lists")
_ALERT_KEYS = ("instrument", "when", "mode", "note", "id", "interval", "hysteresis")
_LIST_KEYS = ("name", "layout", "interval", "instruments", "indicators", "alerts")
_ENTRY_KEYS = ("id", "interval", "indicators")


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
        self.unique_alert_ids(lists)
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
        own: list[tuple[WatchKey, tuple[IndicatorSpec, ...]]] = []
        for i, item in enumerate(instruments):
            entry = self.entry(item, interval, [*loc, "instruments", i])
            if entry in seen:
                raise self.fail(
                    [*loc, "instruments", i], f"duplicate instrument {entry.id} at {entry.interval.code}"
                )
            seen.add(entry)
            entries.append(entry)
            if isinstance(item, dict) and "indicators" in item:
                own.append(
                    (entry, self.indicators(item["indicators"], [*loc, "instruments", i, "indicators"]))
                )
        return Watchlist(
            name=name,
            layout=cast(Layout, layout),
            interval=interval,
            entries=tuple(entries),
            indicators=self.indicators(raw.get("indicators", []), [*loc, "indicators"]),
            entry_indicators=tuple(own),
            alerts=self.alerts(raw.get("alerts", []), entries, [*loc, "alerts"]),
        )

    def alerts(self, raw: object, entries: list[WatchKey], loc: list[str | int]) -> tuple[AlertRule, ...]:
        if not isinstance(raw, list):
            raise self.fail(loc, f"expected an array of alert tables, got {_describe(raw)}")
        return tuple(self.alert(item, entries, [*loc, i]) for i, item in enumerate(raw))

    def alert(self, item: object, entries: list[WatchKey], at: list[str | int]) -> AlertRule:
        if not isinstance(item, dict):
            raise self.fail(at, f"expected {{ instrument = ..., when = ... }}, got {_describe(item)}")
        self.keys(item, _ALERT_KEYS, at)
        for required in ("instrument", "when"):
            if required not in item:
                raise self.fail(at, f"missing key {required!r}")
        instrument = self.instrument_id(item["instrument"], [*at, "instrument"])
        given = "interval" in item
        interval = self.interval(item["interval"], [*at, "interval"]) if given else None
        when = self.string(item["when"], [*at, "when"])
        try:
            parse_when(when)
        except RuleError as exc:
            raise self.fail([*at, "when"], str(exc)) from None
        mode = self.string(item.get("mode", "once"), [*at, "mode"])
        if mode not in MODES:
            raise self.fail([*at, "mode"], f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
        note = item.get("note", "")
        if not isinstance(note, str):
            raise self.fail([*at, "note"], f"expected a string, got {_describe(note)}")
        hysteresis = item.get("hysteresis")
        number = isinstance(hysteresis, int | float) and not isinstance(hysteresis, bool)
        if hysteresis is not None and not (number and 0 <= hysteresis < math.inf):
            raise self.fail([*at, "hysteresis"], f"expected a distance of 0 or more, got {hysteresis!r}")
        rule = make_rule(
            instrument,
            when,
            interval or entry_interval(entries, instrument) or Interval.M1,
            mode=mode,
            note=note,
            rule_id=self.string(item["id"], [*at, "id"]) if "id" in item else None,
            hysteresis=None if hysteresis is None else float(hysteresis),
            interval_given=given,
        )
        reason = orphan_reason(rule, entries)
        if reason is not None:
            raise self.fail([*at, "interval" if given else "instrument"], reason)
        return rule

    def unique_alert_ids(self, lists: Sequence[Watchlist]) -> None:
        seen: dict[str, str] = {}
        for i, item in enumerate(lists):
            for j, rule in enumerate(item.alerts):
                if rule.id in seen:
                    raise self.fail(
                        ["lists", i, "alerts", j, "id"],
                        f"duplicate alert id {rule.id!r} (also in list {seen[rule.id]!r}); give one an id",
                    )
                seen[rule.id] = item.name

    def indicators(self, value: object, loc: list[str | int]) -> tuple[IndicatorSpec, ...]:
        if not isinstance(value, list):
            raise self.fail(
                loc, f'expected an array of indicators like ["sma 20", "rsi 14"], got {_describe(value)}'
            )
        specs: list[IndicatorSpec] = []
        for i, text in enumerate(value):
            if not isinstance(text, str):
                raise self.fail(
                    [*loc, i], f'expected an indicator string like "sma 20", got {_describe(text)}'
                )
            try:
                spec = parse_indicator(text)
            except IndicatorSpecError as exc:
                raise self.fail([*loc, i], str(exc)) from None
            if spec in specs:
                raise self.fail([*loc, i], f"duplicate indicator {str(spec)!r}")
            specs.append(spec)
        return tuple(specs)

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
        WatchlistError: with `FILE:LINE: FIELD: what is wrong` for any problem, never anything else
            (`FILE: cannot read: ...` for a missing, special or oversized file).
    """
    raw, _info = read_watchlist_bytes(path)
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

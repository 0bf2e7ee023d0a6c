"""Loading a watchlist file: TOML to models, with FILE:LINE: FIELD errors."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

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
)
from monitor.watchlist.readfile import read_watchlist_bytes

_TOP_KEYS = ("active", "lists")
_LIST_KEYS = ("name", "layout", "interval", "instruments", "indicators")
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
        )

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

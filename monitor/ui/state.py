"""Pure view-state helpers: which series each panel shows, layouts, intervals and time zones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from monitor.market import Interval, WatchKey, ordered
from monitor.watchlist import LAYOUTS

TIMEZONES: tuple[str, ...] = ("exchange", "local", "utc")
"""The `t` cycle; also the values of `settings.ui.timezone`."""
EXCHANGE_TZ = ZoneInfo("Europe/Moscow")
"""MOEX and SPB trade on Moscow time, the zone of every instrument the API serves."""
LAYOUT_PANELS: dict[str, int] = {"1": 1, "1x2": 2, "2x2": 4, "3x3": 9}
MAX_PANELS = max(LAYOUT_PANELS.values())


def timezone_for(name: str) -> tzinfo:
    """The tzinfo for a `t` setting: exchange (Moscow), the machine's local zone, or UTC."""
    if name == "exchange":
        return EXCHANGE_TZ
    if name == "local":
        local = datetime.now().astimezone().tzinfo
        return local if local is not None else UTC
    return UTC


def next_timezone(name: str) -> str:
    """exchange → local → utc → exchange."""
    index = TIMEZONES.index(name) if name in TIMEZONES else -1
    return TIMEZONES[(index + 1) % len(TIMEZONES)]


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


def format_age(seconds: float | None) -> str:
    """A short age: 4s, 2m05s, 3h12m, 2d."""
    if seconds is None:
        return "—"
    whole = int(max(0.0, seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86_400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86_400}d"


def format_price(price: float | None, step: float | None = None) -> str:
    """A price with as many decimals as the instrument's price step (2 when unknown)."""
    if price is None:
        return "—"
    decimals = 2
    if step:
        text = f"{step:.9f}".rstrip("0")
        decimals = max(0, len(text.split(".")[1])) if "." in text else 0
    return f"{price:,.{decimals}f}".replace(",", " ")

"""Time on screen: the zones of the `t` cycle (exchange, local, UTC) and short ages."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

TIMEZONES: tuple[str, ...] = ("exchange", "local", "utc")
"""The `t` cycle; also the values of `settings.ui.timezone`."""
EXCHANGE_TZ = ZoneInfo("Europe/Moscow")
"""MOEX and SPB trade on Moscow time, the zone of every instrument the API serves."""


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

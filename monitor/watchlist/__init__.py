"""Watchlists: TOML models, loading with file:line:field errors, comment-keeping atomic save."""

from monitor.watchlist.load import load_watchlists, parse_watchlists
from monitor.watchlist.model import (
    DEFAULT_INTERVAL,
    LAYOUTS,
    IdKind,
    Layout,
    Watchlist,
    WatchlistError,
    Watchlists,
    add_entry,
    classify_id,
    remove_entry,
    set_active,
    set_entry_interval,
    set_layout,
)
from monitor.watchlist.save import save_watchlists

__all__ = [
    "DEFAULT_INTERVAL",
    "LAYOUTS",
    "IdKind",
    "Layout",
    "Watchlist",
    "WatchlistError",
    "Watchlists",
    "add_entry",
    "classify_id",
    "load_watchlists",
    "parse_watchlists",
    "remove_entry",
    "save_watchlists",
    "set_active",
    "set_entry_interval",
    "set_layout",
]

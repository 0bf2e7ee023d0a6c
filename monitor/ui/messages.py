"""App-wide messages: small dataclasses with past-tense names."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from monitor.watchlist import Watchlists


@dataclass
class WatchlistReloaded(Message):
    """The watchlist file changed on disk and loaded cleanly."""

    watchlists: Watchlists


@dataclass
class WatchlistReloadFailed(Message):
    """The watchlist file changed on disk but is invalid; the running list is kept."""

    error: str
    """FILE:LINE: FIELD: what is wrong."""

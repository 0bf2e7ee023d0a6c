"""App-wide messages: small dataclasses with past-tense names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


@dataclass
class WatchlistSaved(Message):
    """A save of the watchlists reached the disk."""

    path: Path
    watchlists: Watchlists
    notices: tuple[str, ...]
    """What the edits it holds asked to tell the user once saved."""


@dataclass
class WatchlistSaveFailed(Message):
    """A save of the watchlists failed; the edits stay in memory and the next save retries them."""

    path: Path
    error: str

"""The T-Invest market-data feed: `Feed` (live), its read model, health and listener types."""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.feed.api import CandleListener, EventListener, FeedLike, Listener
from monitor.feed.config import FeedConfig
from monitor.feed.health import CLOCK_SKEW_WARN_S, ConnectionState, Health, HealthEvent, WatchState
from monitor.feed.view import HistoryState, WatchView

if TYPE_CHECKING:
    from monitor.feed.auth import TokenRejected
    from monitor.feed.channel import metadata, open_channel
    from monitor.feed.connectivity import connect_problem
    from monitor.feed.history import HistoryClient, HistoryError
    from monitor.feed.instruments import InstrumentError, InstrumentResolver, instrument_request
    from monitor.feed.supervisor import Feed

__all__ = [
    "CLOCK_SKEW_WARN_S",
    "CandleListener",
    "ConnectionState",
    "EventListener",
    "Feed",
    "FeedConfig",
    "FeedLike",
    "Health",
    "HealthEvent",
    "HistoryClient",
    "HistoryError",
    "HistoryState",
    "InstrumentError",
    "InstrumentResolver",
    "Listener",
    "TokenRejected",
    "WatchState",
    "WatchView",
    "connect_problem",
    "instrument_request",
    "metadata",
    "open_channel",
]

# These pull in grpc: importing FeedConfig alone (settings, CLI parsing) must stay light.
_LAZY = {
    "TokenRejected": "monitor.feed.auth",
    "Feed": "monitor.feed.supervisor",
    "open_channel": "monitor.feed.channel",
    "metadata": "monitor.feed.channel",
    "connect_problem": "monitor.feed.connectivity",
    "HistoryClient": "monitor.feed.history",
    "HistoryError": "monitor.feed.history",
    "InstrumentResolver": "monitor.feed.instruments",
    "InstrumentError": "monitor.feed.instruments",
    "instrument_request": "monitor.feed.instruments",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'monitor.feed' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module), name)

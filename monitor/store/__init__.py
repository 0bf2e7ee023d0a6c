"""The embedded candle store: SQLite in WAL mode, written by one thread, read on the caller's."""

from monitor.store.inspection import StoreUnavailable
from monitor.store.store import CandleStore

__all__ = ["CandleStore", "StoreUnavailable"]

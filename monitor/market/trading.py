"""Trading phases: what a SecurityTradingStatus number means for a panel badge."""

from __future__ import annotations

from enum import Enum


class TradingPhase(Enum):
    """How a panel reads an instrument's trading status."""

    UNKNOWN = "unknown"
    TRADING = "trading"
    LIMITED = "limited"  # auctions, opening/closing periods: prices may move, but not freely
    CLOSED = "closed"  # closed, halted or not available: silence is expected, not stale


# SecurityTradingStatus numbers (contract §3.7): 5, 6, 8, 9, 13, 14 trade; 2, 3, 10, 11 are
# auctions or limited periods; the rest mean closed or halted.
_TRADING = frozenset({5, 6, 8, 9, 13, 14})
_LIMITED = frozenset({2, 3, 10, 11})


def phase_of(status: int | None) -> TradingPhase:
    """The phase for a SecurityTradingStatus number (None or 0 when not known yet)."""
    if not status:
        return TradingPhase.UNKNOWN
    if status in _TRADING:
        return TradingPhase.TRADING
    if status in _LIMITED:
        return TradingPhase.LIMITED
    return TradingPhase.CLOSED

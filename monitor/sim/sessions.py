"""Trading sessions: which SecurityTradingStatus holds at a moment, MOEX-like or always open."""

from __future__ import annotations

from monitor.pb import common_pb2

DAY = 86_400
NORMAL: int = common_pb2.SECURITY_TRADING_STATUS_NORMAL_TRADING
CLOSED: int = common_pb2.SECURITY_TRADING_STATUS_NOT_AVAILABLE_FOR_TRADING

# A weekday in UTC (MSK is UTC+3): opening auction, main session, closing auction, the break before
# the evening session, the evening session. Everything else and weekends are NOT_AVAILABLE. One
# schedule serves every instrument; real futures and currency hours differ, which the demo ignores.
_WEEKDAY: tuple[tuple[int, int], ...] = (
    (0, CLOSED),
    (6 * 3600 + 50 * 60, common_pb2.SECURITY_TRADING_STATUS_OPENING_AUCTION_PERIOD),
    (7 * 3600, NORMAL),
    (15 * 3600 + 40 * 60, common_pb2.SECURITY_TRADING_STATUS_CLOSING_AUCTION),
    (15 * 3600 + 50 * 60, common_pb2.SECURITY_TRADING_STATUS_BREAK_IN_TRADING),
    (16 * 3600 + 5 * 60, NORMAL),
    (20 * 3600 + 50 * 60, CLOSED),
)

# Limit and market orders allowed per status (faq_trading_status.md).
ORDER_FLAGS: dict[int, tuple[bool, bool]] = {
    NORMAL: (True, True),
    common_pb2.SECURITY_TRADING_STATUS_OPENING_AUCTION_PERIOD: (True, True),
    common_pb2.SECURITY_TRADING_STATUS_CLOSING_AUCTION: (True, True),
}


def _is_weekend(day: int) -> bool:
    # 1970-01-01 (day 0) was a Thursday, so (day + 3) % 7 is 0 on Mondays.
    return (day + 3) % 7 >= 5


class Sessions:
    """The trading status as a pure function of time; `enabled=False` means trading around the clock."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def status(self, t: float) -> int:
        if not self.enabled:
            return NORMAL
        day, second = divmod(int(t), DAY)
        if _is_weekend(day):
            return CLOSED
        current = CLOSED
        for start, status in _WEEKDAY:
            if second >= start:
                current = status
        return current

    def trading_minutes(self, day: int) -> list[int] | None:
        """Minutes of the day (0..1439) with trades; None when every minute trades."""
        if not self.enabled:
            return None
        if _is_weekend(day):
            return []
        base = day * DAY
        return [m for m in range(1440) if self.status(base + m * 60) == NORMAL]

    def transitions(self, after: float, until: float) -> list[tuple[float, int]]:
        """Status changes at moments in (after, until], in order (just the last one over long gaps)."""
        if not self.enabled or until <= after:
            return []
        if until - after > 7 * DAY:
            return [(until, self.status(until))]
        changes: list[tuple[float, int]] = []
        previous = self.status(after)
        for day in range(int(after) // DAY, int(until) // DAY + 1):
            for start, _ in _WEEKDAY:
                moment = float(day * DAY + start)
                if after < moment <= until:
                    status = self.status(moment)
                    if status != previous:
                        changes.append((moment, status))
                        previous = status
        return changes

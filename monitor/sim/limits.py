"""Per-service unary request limits: a window of one sim minute and its x-ratelimit-* headers."""

from __future__ import annotations

import math
from dataclasses import dataclass

WINDOW_SECONDS = 60


@dataclass
class RateWindow:
    """One service's limit (MarketDataService 600/min, InstrumentsService 200/min): every call of the
    service counts, refused ones too, and the count starts over at each whole sim minute."""

    limit: int
    _window: int = -1
    _used: int = 0

    def take(self, now: float) -> tuple[bool, tuple[tuple[str, str], ...]]:
        """Counts one call at sim time `now`: (allowed, x-ratelimit-* headers as the real API sends them)."""
        window = int(now // WINDOW_SECONDS)
        if window != self._window:
            self._window, self._used = window, 0
        allowed = self._used < self.limit
        if allowed:
            self._used += 1
        reset = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        return allowed, (
            ("x-ratelimit-limit", f"{self.limit}, {self.limit};w={WINDOW_SECONDS}"),
            ("x-ratelimit-remaining", str(self.limit - self._used)),
            ("x-ratelimit-reset", str(reset)),
        )

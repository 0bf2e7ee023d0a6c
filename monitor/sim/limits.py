"""Request limits on the sim clock: per-service unary windows (x-ratelimit-*) and the open-stream counter."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

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


@dataclass
class StreamCounter:
    """The open-stream limit (80001) per token, counted the way the real API counts (limits.md: "the
    stream-connection counter refreshes every 2 minutes"): a stream takes a place when it opens and
    keeps it after it closes until the counter's next refresh, at each whole multiple of
    `refresh_seconds` of sim time (like the request windows). So a client that closes a stream and
    opens another at once needs two places; a place frees at the refresh, not at the close.
    `refresh_seconds=0` frees a place at the close."""

    limit: int
    refresh_seconds: float = 120.0
    _open: Counter[str] = field(default_factory=Counter)
    _closed: Counter[str] = field(default_factory=Counter)
    """Streams closed since the last refresh, per token: still counted until the next one."""
    _window: int = -1

    def _refresh(self, now: float) -> None:
        if self.refresh_seconds <= 0:
            return
        window = int(now // self.refresh_seconds)
        if window != self._window:
            self._window = window
            self._closed.clear()

    def counted(self, token: str, now: float) -> int:
        """Places `token` holds at sim time `now`: its open streams plus those closed since the refresh."""
        self._refresh(now)
        return self._open[token] + self._closed[token]

    def admit(self, token: str, now: float) -> bool:
        """Takes a place for a new stream of `token` if one is free; False means 80001."""
        if self.counted(token, now) >= self.limit:
            return False
        self._open[token] += 1
        return True

    def release(self, token: str, now: float) -> None:
        """A stream of `token` closed at `now`: its place stays taken until the next refresh."""
        self._refresh(now)
        self._open[token] -= 1
        if self._open[token] <= 0:
            del self._open[token]
        if self.refresh_seconds > 0:
            self._closed[token] += 1

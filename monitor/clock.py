"""Clocks: the one notion of time shared by the simulator, the feed and their tests.

Every timer in the simulator and the feed (pings, throttles, rate windows, backoff, the stale
watchdog) reads `now()` and waits with `sleep()` of a Clock, so tests can run time fast
(`ScaledClock(speed=600)`: a minute candle closes in 100 ms) or step it (`monitor.feed.testing.ManualClock`).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """A source of UTC epoch seconds and a way to wait for them to pass."""

    def now(self) -> float:
        """Current time in UTC epoch seconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Waits until `seconds` of this clock's time have passed."""
        ...


class SystemClock:
    """Wall time."""

    # time.time itself rather than a method around it: the receive loop reads the clock per message.
    now = staticmethod(time.time)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class ScaledClock:
    """Time that runs `speed` times faster than wall time from `origin` on.

    A pure function of wall time and its two parameters, so a simulator restarted with the same
    flags continues the same market where the old one left off.
    """

    def __init__(self, *, speed: float = 1.0, origin: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self.origin = time.time() if origin is None else origin

    def now(self) -> float:
        return self.origin + (time.time() - self.origin) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


def speed_of(clock: Clock) -> float:
    """Clock seconds per wall second: a ScaledClock's speed, 1 for every other clock."""
    return float(getattr(clock, "speed", 1.0))


async def wait_any(clock: Clock, event: asyncio.Event, seconds: float | None) -> None:
    """Waits until `event` is set or `seconds` of clock time passed (None: only the event)."""
    if seconds is None:
        await event.wait()
        return
    if event.is_set():
        return
    waiter = asyncio.ensure_future(event.wait())
    sleeper = asyncio.ensure_future(clock.sleep(max(0.0, seconds)))
    try:
        await asyncio.wait({waiter, sleeper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        sleeper.cancel()

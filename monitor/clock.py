"""Clocks: the one notion of time shared by the simulator, the feed and their tests.

Every timer in the simulator and the feed (pings, throttles, rate windows, backoff, the stale
watchdog) reads `now()` and waits with `sleep()` of a Clock, so tests can run time fast
(`ScaledClock(speed=600)`: a minute candle closes in 100 ms) or step it (`ManualClock`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
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


class ManualClock:
    """Time that moves only when a test calls `advance()`; sleepers wake in deadline order."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        await future

    def advance(self, seconds: float) -> None:
        """Moves time forward and wakes every sleeper whose deadline has come."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._now += seconds
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    @property
    def sleepers(self) -> int:
        """How many waits are pending (tests wait for this to know a task is parked)."""
        return sum(1 for _, _, future in self._sleepers if not future.done())


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

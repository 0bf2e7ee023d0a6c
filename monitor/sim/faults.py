"""Faults on demand and counters, for tests and the `--fault` flag."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Sized
from dataclasses import dataclass, field
from typing import Protocol

from monitor.sim.kinds import HostileKind, StreamEnd


# A protocol, not StreamSession itself: the stream imports the state, which holds these switches,
# so naming the stream here would close the import circle the simulator's layers contract forbids.
class OpenStream(Protocol):
    """What the counters and the switches need of an open stream (`monitor.sim.stream` has it)."""

    @property
    def candles(self) -> Sized: ...
    @property
    def subscription_count(self) -> int: ...
    def end(self, how: StreamEnd | str) -> None: ...
    def send_hostile(self, kind: HostileKind) -> bool: ...
    def tick(self, now: float) -> None: ...


@dataclass
class Stats:
    """Counters the tests read."""

    streams_opened: int = 0
    stream_calls: int = 0
    """MarketDataStream calls received, refused ones included (streams_opened counts the admitted)."""
    unary_calls: int = 0
    """Unary calls received (GetCandles, look-ups, ...), refused ones included."""
    subscribe_requests: int = 0
    too_many_requests: int = 0
    """Subscription requests answered TOO_MANY_REQUESTS (over the per-stream minute window)."""
    limit_exceeded: int = 0
    """Candle subscriptions answered LIMIT_IS_EXCEEDED (the stream already held its maximum)."""
    lookups: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    """Unary calls received per method name (GetCandles, Shares, ...), refused ones included."""
    rate_limited: Counter[str] = field(default_factory=Counter)
    """Unary calls refused with 80002 (over the service's minute window) per method name."""
    """InstrumentsService look-ups per requested id (GetInstrumentBy, ShareBy)."""
    hostile_sent: Counter[str] = field(default_factory=Counter)
    """Hostile messages sent per kind (`Faults.hostile`)."""
    sessions: dict[str, OpenStream] = field(default_factory=dict)


class Faults:
    """Switches the tests flip; durations are in sim seconds (they run on the server's clock)."""

    def __init__(self, stats: Stats, outage: Callable[[float], Awaitable[None]]) -> None:
        self._stats = stats
        self._outage = outage
        self.stalled = False
        self.refusing_streams = False
        self.rejecting_tokens = False
        self.delay_seconds = 0.0
        self.late_seconds = 0.0
        self.late_seconds = 0.0
        self.restored = asyncio.Event()
        self.restored.set()

    def end_streams(self, kind: StreamEnd) -> int:
        """Ends every open stream the given way; returns how many were ended."""
        sessions = list(self._stats.sessions.values())
        for session in sessions:
            session.end(kind)
        return len(sessions)

    def hostile(self, kind: HostileKind | str) -> int:
        """Sends one hostile or malformed message of `kind` on every open stream; returns how many.

        The streams stay open and keep serving; the kinds are listed in `monitor.sim.kinds`.
        """
        kind = HostileKind(kind)
        sent = sum(session.send_hostile(kind) for session in list(self._stats.sessions.values()))
        self._stats.hostile_sent[kind.value] += sent
        return sent

    def stall(self, on: bool = True) -> None:
        """Silence: no data and no pings on any stream (streams stay open) until cleared."""
        self.stalled = on

    def refuse_streams(self, on: bool = True) -> None:
        """New streams fail with RESOURCE_EXHAUSTED 80001 while on."""
        self.refusing_streams = on

    def reject_tokens(self, on: bool = True) -> None:
        """Every new call fails with UNAUTHENTICATED 40003 while on, as if the token was revoked
        (open streams keep serving: the real API checks the token when a call starts)."""
        self.rejecting_tokens = on

    def delay(self, seconds: float) -> None:
        """Delays every unary response and the start of every stream by `seconds` (0 clears)."""
        self.delay_seconds = max(0.0, seconds)

    def late(self, seconds: float) -> None:
        """Every stream message reaches the wire `seconds` after the server stamped it, as behind a
        slow link's queue: pings and data keep coming, all of it late (0 clears; a message already
        held finishes its wait)."""
        self.late_seconds = max(0.0, seconds)

    async def refuse_connections(self, seconds: float) -> None:
        """Stops the gRPC server (open calls fail, new connections are refused) and restarts it on
        the same port after `seconds`; returns once it has stopped. `restored` is set when back."""
        self.restored.clear()
        await self._outage(seconds)

    async def wait_restored(self) -> None:
        await self.restored.wait()

    def clear(self) -> None:
        """Clears every standing fault."""
        self.stalled = False
        self.refusing_streams = False
        self.rejecting_tokens = False
        self.delay_seconds = 0.0
        self.late_seconds = 0.0

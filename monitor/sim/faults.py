"""Faults on demand and counters, for tests and the `--fault` flag."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.sim.hostile import HostileKind
    from monitor.sim.stream import StreamSession


class StreamEnd(Enum):
    """How `Faults.end_streams` ends every open stream."""

    UNAVAILABLE = "unavailable"  # status UNAVAILABLE, as after a GOAWAY
    INTERNAL = "internal"  # status INTERNAL, details 70001
    CANCELLED = "cancelled"  # status CANCELLED sent by the server (RST_STREAM code 8 in the field)
    STREAM_REMOVED = "stream-removed"  # status UNKNOWN, details "Stream removed"
    CLEAN = "clean"  # status OK: the server just returns
    LIFETIME = "lifetime"  # RESOURCE_EXHAUSTED, details 80005


@dataclass
class Stats:
    """Counters the tests read."""

    streams_opened: int = 0
    subscribe_requests: int = 0
    too_many_requests: int = 0
    """Subscription requests answered TOO_MANY_REQUESTS (over the per-stream minute window)."""
    limit_exceeded: int = 0
    """Candle subscriptions answered LIMIT_IS_EXCEEDED (the stream already held its maximum)."""
    unary_requests: int = 0
    lookups: Counter[str] = field(default_factory=Counter)
    """InstrumentsService look-ups per requested id (GetInstrumentBy, ShareBy)."""
    hostile_sent: Counter[str] = field(default_factory=Counter)
    """Hostile messages sent per kind (`Faults.hostile`)."""
    sessions: dict[str, StreamSession] = field(default_factory=dict)

    @property
    def open_streams(self) -> int:
        return len(self.sessions)

    def active_subscriptions(self) -> dict[str, int]:
        """Active subscriptions (candles + info + last price) per open stream, by stream_id."""
        return {sid: s.subscription_count for sid, s in self.sessions.items()}

    def candle_subscriptions(self) -> dict[str, int]:
        """Active candle subscriptions per open stream, by stream_id (the ones the 300 limit counts)."""
        return {sid: len(s.candles) for sid, s in self.sessions.items()}

    def subscriptions_of(self, stream_id: str) -> int:
        session = self.sessions.get(stream_id)
        return session.subscription_count if session else 0


class Faults:
    """Switches the tests flip; durations are in sim seconds (they run on the server's clock)."""

    def __init__(self, stats: Stats, outage: Callable[[float], Awaitable[None]]) -> None:
        self._stats = stats
        self._outage = outage
        self.stalled = False
        self.refusing_streams = False
        self.delay_seconds = 0.0
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

        The streams stay open and keep serving; the kinds are listed in `monitor.sim.hostile`.
        """
        from monitor.sim.hostile import HostileKind, hostile_message

        kind = HostileKind(kind)
        sent = 0
        for session in list(self._stats.sessions.values()):
            message = hostile_message(kind, session)
            if message is not None:
                session.emit(message)
                sent += 1
        self._stats.hostile_sent[kind.value] += sent
        return sent

    def stall(self, on: bool = True) -> None:
        """Silence: no data and no pings on any stream (streams stay open) until cleared."""
        self.stalled = on

    def refuse_streams(self, on: bool = True) -> None:
        """New streams fail with RESOURCE_EXHAUSTED 80001 while on."""
        self.refusing_streams = on

    def delay(self, seconds: float) -> None:
        """Delays every unary response and the start of every stream by `seconds` (0 clears)."""
        self.delay_seconds = max(0.0, seconds)

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
        self.delay_seconds = 0.0

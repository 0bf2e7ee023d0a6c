"""What every call passes first: the token check, injected delay, rate limits and response headers."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import grpc.aio

from monitor.clock import Clock
from monitor.sim.convert import tracking_id
from monitor.sim.errors import abort
from monitor.sim.state import SimState


async def wait_sim(clock: Clock, seconds: float) -> None:
    """Waits `seconds` of sim time by polling the clock on wall time (works for every Clock)."""
    deadline = clock.now() + seconds
    while clock.now() < deadline:
        await asyncio.sleep(0.005)


class Gate:
    """Authentication like the real API, plus the unary request window of one sim minute."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self._window = -1
        self._used = 0

    def _authorized(self, context: grpc.aio.ServicerContext[Any, Any]) -> bool:
        if self.state.faults.rejecting_tokens:
            return False
        tokens = self.state.config.tokens
        if not tokens:
            return True
        for key, value in context.invocation_metadata() or ():
            if key == "authorization" and isinstance(value, str):
                scheme, _, token = value.partition(" ")
                return scheme.lower() == "bearer" and token.strip() in tokens
        return False

    async def admit_stream(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        self.state.stats.stream_calls += 1
        if not self._authorized(context):
            await abort(context, "40003")
        if self.state.faults.refusing_streams:
            await abort(context, "80001")
        if self.state.faults.delay_seconds:
            await wait_sim(self.state.clock, self.state.faults.delay_seconds)

    async def admit_unary(self, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        """Checks the token and the rate window; sends x-tracking-id and x-ratelimit-* headers."""
        self.state.stats.unary_calls += 1
        if not self._authorized(context):
            await abort(context, "40003")
        now = self.state.clock.now()
        window = int(now // 60)
        if window != self._window:
            self._window, self._used = window, 0
        limit = self.state.config.unary_limit_per_minute
        reset = max(1, math.ceil((window + 1) * 60 - now))
        allowed = self._used < limit
        if allowed:
            self._used += 1
        headers = (
            ("x-tracking-id", tracking_id()),
            ("x-ratelimit-limit", f"{limit}, {limit};w=60"),
            ("x-ratelimit-remaining", str(limit - self._used)),
            ("x-ratelimit-reset", str(reset)),
        )
        if not allowed:
            await abort(context, "80002", headers)
        if self.state.faults.delay_seconds:
            await wait_sim(self.state.clock, self.state.faults.delay_seconds)
        await context.send_initial_metadata(headers)

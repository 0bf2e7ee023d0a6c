"""What every call passes first: the token check, injected delay, rate limits and response headers."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import grpc.aio

from monitor.clock import Clock
from monitor.sim.convert import tracking_id
from monitor.sim.errors import ApiError, abort
from monitor.sim.limits import RateWindow
from monitor.sim.state import SimState

Context = grpc.aio.ServicerContext[Any, Any]
Headers = tuple[tuple[str, str], ...]
Handler = TypeVar("Handler", bound=Callable[..., Awaitable[Any]])

MARKET_DATA, INSTRUMENTS = "MarketDataService", "InstrumentsService"


async def wait_sim(clock: Clock, seconds: float) -> None:
    """Waits `seconds` of sim time by polling the clock on wall time (works for every Clock)."""
    deadline = clock.now() + seconds
    while clock.now() < deadline:
        await asyncio.sleep(0.005)


class Gate:
    """Authentication like the real API, plus each service's unary request window of one sim minute."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        config = state.config
        self._limits = {
            MARKET_DATA: RateWindow(config.unary_limit_per_minute),
            INSTRUMENTS: RateWindow(config.instruments_limit_per_minute),
        }

    def _authorized(self, context: Context) -> bool:
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

    async def admit_stream(self, context: Context) -> None:
        self.state.stats.stream_calls += 1
        if not self._authorized(context):
            await abort(context, "40003")
        if self.state.faults.refusing_streams:
            await abort(context, "80001")
        if self.state.faults.delay_seconds:
            await wait_sim(self.state.clock, self.state.faults.delay_seconds)

    async def admit_unary(self, context: Context, service: str, method: str = "") -> Headers:
        """Checks the token and `service`'s rate window; returns the call's x-tracking-id and
        x-ratelimit-* headers, which go out with its answer (initial metadata) or its error (trailers)."""
        stats = self.state.stats
        stats.unary_calls += 1
        stats.calls[method] += 1
        tracking = (("x-tracking-id", tracking_id()),)
        if not self._authorized(context):
            await abort(context, "40003", tracking)
        allowed, limits = self._limits[service].take(self.state.clock.now())
        headers = tracking + limits
        if not allowed:
            stats.rate_limited[method] += 1
            await abort(context, "80002", headers)
        if self.state.faults.delay_seconds:
            await wait_sim(self.state.clock, self.state.faults.delay_seconds)
        return headers


def unary(service: str) -> Callable[[Handler], Handler]:
    """Serves a unary method of `service` (its servicer has `self.gate`) through the gate.

    The headers go out only once the answer is ready: a handler's ApiError then ends the call
    trailers-only, with every header in the trailers (`errors.abort`).
    """

    def wrap(method: Handler) -> Handler:
        @functools.wraps(method)
        async def call(self: Any, request: Any, context: Context) -> Any:
            gate: Gate = self.gate
            headers = await gate.admit_unary(context, service, method.__name__)
            try:
                response = await method(self, request, context)
            except ApiError as error:
                await abort(context, error.code, headers)
            await context.send_initial_metadata(headers)
            return response

        return cast(Handler, call)

    return wrap

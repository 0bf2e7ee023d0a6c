"""Instrument look-ups under the request limit (InstrumentsService 200/min): no storm of refusals."""

from __future__ import annotations

from typing import Any

import grpc
from grpc import aio

from monitor.feed.instruments import InstrumentError, resolve_round
from monitor.market import Instrument
from tests.feed.feedkit import Running, wait_for

IDS = ["SBER_TQBR", "GAZP_TQBR", "LKOH_TQBR", "YDEX_TQBR", "VTBR_TQBR", "NVTK_TQBR", "ROSN_TQBR"]


class _LimitedResolver:
    """Answers `allowed` look-ups, then refuses every one with 80002 and a reset in 42 s."""

    def __init__(self, allowed: int) -> None:
        self.allowed = allowed
        self.asked: list[str] = []

    async def prefetch(self, watch_ids: list[str]) -> None:
        """No cache and no listings here: every id is looked up by itself."""

    async def resolve(self, watch_id: str) -> Instrument:
        self.asked.append(watch_id)
        if len(self.asked) > self.allowed:
            trailers = aio.Metadata(("message", "request limit exceeded"), ("x-ratelimit-reset", "42"))
            raise aio.AioRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, aio.Metadata(), trailers, "80002")
        if watch_id == "NOPE_TQBR":
            raise InstrumentError(watch_id, "instrument not found")
        return Instrument(f"uid-{watch_id}", "F", watch_id, "TQBR", watch_id, 1, 0)  # type: ignore[arg-type]


async def test_a_refused_look_up_ends_the_round_with_the_servers_wait() -> None:
    resolver = _LimitedResolver(allowed=2)
    resolved: dict[str, Instrument] = {}
    result = await resolve_round(resolver, IDS, resolved)  # type: ignore[arg-type]
    assert list(resolved) == IDS[:2]
    assert resolver.asked == IDS[:3]  # one refusal, not one per id left
    assert result.transient and result.wait == 42.0


async def test_other_transient_errors_keep_the_round_going() -> None:
    class Flaky(_LimitedResolver):
        async def resolve(self, watch_id: str) -> Instrument:
            if watch_id == IDS[0]:
                raise aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, aio.Metadata(), aio.Metadata(), "down")
            return await super().resolve(watch_id)

    resolver = Flaky(allowed=99)
    resolved: dict[str, Instrument] = {}
    result = await resolve_round(resolver, [*IDS[:3], "NOPE_TQBR"], resolved)  # type: ignore[arg-type]
    assert list(resolved) == IDS[1:3] and result.failed == {"NOPE_TQBR": "instrument not found"}
    assert result.transient and result.wait is None


async def test_a_watchlist_bigger_than_the_limit_resolves_window_by_window(clock: Any) -> None:
    """Four instruments (too few for a bulk listing) against 1 look-up a minute: every one
    resolves, a minute at a time."""
    from monitor.feed.supervisor import Feed
    from monitor.market import Interval, WatchKey
    from monitor.sim import SimConfig, SimServer
    from tests.feed.feedkit import SPEED, feed_config

    config = SimConfig(
        host="127.0.0.1",
        tokens=("sim-token",),
        seed=1,
        speed=SPEED,
        sessions=False,
        instruments_limit_per_minute=1,
    )
    ids = IDS[:4]
    async with SimServer(config, clock=clock) as sim:
        feed = Feed(config=feed_config(sim), clock=clock)
        feed.watch([WatchKey(i, Interval.M1) for i in ids])
        run = Running(feed)
        start = clock.now()
        try:
            await wait_for(lambda: all(feed.instrument(i) is not None for i in ids), 15, "every look-up")
        finally:
            await run.stop()
        # 4 look-ups at 1 a minute (windows on whole sim minutes) need a fourth window: three waits.
        assert clock.now() - start >= 120

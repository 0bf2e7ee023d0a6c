"""The stale watchdog's bound is in wall time: a fast simulator clock does not make jitter a stall."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc

from monitor.feed.config import WALL_FLOOR_S, FeedConfig
from monitor.feed.health import Health
from monitor.feed.session import StreamSession
from monitor.feed.subscriptions import Subscriptions
from monitor.market import CandleBook
from tests.feed.feedkit import FastManualClock, wait_for

T0 = 1_764_000_000.0


def watched_session(
    clock: FastManualClock, config: FeedConfig, on_stale: Callable[[float], None]
) -> tuple[grpc.aio.Channel, StreamSession]:
    """A session whose watchdog alone runs (no call, no receiver)."""
    subscriptions = Subscriptions(
        config=config, clock=clock, health=Health(), book=CandleBook(), on_change=lambda: None
    )
    channel = grpc.aio.insecure_channel("127.0.0.1:1")  # never used: only the watchdog runs
    session = StreamSession(
        stream=0, channel=channel, metadata=(), registry=subscriptions.registry, clock=clock, config=config,
        receiver=None,  # type: ignore[arg-type]  # the watchdog never touches it
        on_outcomes=lambda outcomes: None, on_stale=on_stale,
    )  # fmt: skip
    return channel, session


def test_the_derived_bound_is_at_least_a_few_wall_seconds() -> None:
    config = FeedConfig(ping_delay_ms=15_000)
    assert config.stale_bound(1.0) == 45.0  # real speed: three missed pings, unchanged
    assert config.stale_bound(600.0) == WALL_FLOOR_S * 600  # 5 wall s, not 75 ms
    assert FeedConfig(stale_after_s=7.0).stale_bound(600.0) == 7.0  # an explicit bound is the user's
    assert FeedConfig(connect_timeout_s=20.0).open_bound(1.0) == 20.0
    assert FeedConfig(connect_timeout_s=20.0).open_bound(600.0) == WALL_FLOOR_S * 600


async def test_a_pause_of_the_loop_at_600x_is_no_stall_but_silence_is() -> None:
    """At --sim-speed 600 the sim pings every 25 ms of wall time; 3 pings' worth (75 ms) of silence
    was a stall before, so a render or a GC reconnected the stream every second."""
    clock = FastManualClock(speed=600.0)
    config = FeedConfig(ping_delay_ms=15_000)
    stale: list[float] = []
    channel, session = watched_session(clock, config, stale.append)
    session.messages, session.last_message_at, session.confirmed_at = 1, T0, T0
    watchdog = asyncio.create_task(session._watchdog())
    try:
        await wait_for(lambda: clock.sleepers == 1, what="the watchdog to wait")
        clock.advance(0.5 * 600)  # half a wall second of silence: 20 missed sim pings, still no stall
        await wait_for(lambda: clock.sleepers == 1, what="the watchdog to wait again")
        assert stale == [] and not watchdog.done()
        clock.advance(WALL_FLOOR_S * 600)
        await wait_for(watchdog.done, what="the watchdog to call the stream stale")
        assert stale and stale[0] >= WALL_FLOOR_S * 600
    finally:
        watchdog.cancel()
        await channel.close()


async def test_the_open_deadline_is_wall_seconds_at_600x() -> None:
    """`connect_timeout_s = 20` of sim time is 33 ms at 600x, which reconnected every demo start
    ("no confirmation within 20s"): a stream gets at least WALL_FLOOR_S of wall time."""
    clock = FastManualClock(speed=600.0)
    config = FeedConfig(connect_timeout_s=20.0)
    channel, session = watched_session(clock, config, lambda silent_for: None)
    watchdog = asyncio.create_task(session._watchdog())
    try:
        await wait_for(lambda: clock.sleepers == 1, what="the watchdog to wait")
        clock.advance(1.0 * 600)  # a second of wall time: 30 times the configured 20 sim seconds
        await wait_for(lambda: clock.sleepers == 1, what="the watchdog to wait again")
        assert not watchdog.done()
        clock.advance(WALL_FLOOR_S * 600)
        await wait_for(watchdog.done, what="the open deadline")
        assert session._cancel_reason == f"no confirmation within {WALL_FLOOR_S:g}s"
    finally:
        watchdog.cancel()
        await channel.close()

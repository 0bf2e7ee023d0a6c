"""A stream the server is slow to confirm, while its sibling on the same channel streams on: the
channel is kept (the silence was the server's), and the healthy stream is not ended with it."""

from __future__ import annotations

from monitor.clock import ScaledClock
from monitor.market import Interval, WatchKey
from tests.feed.feedkit import wait_for
from tests.feed.test_scenarios import all_active, running, simulator


async def test_a_slow_to_confirm_stream_keeps_the_channel_its_sibling_streams_on(clock: ScaledClock) -> None:
    async with simulator(clock) as sim:
        ids = [i.instrument.symbol for i in sim.state.catalogue.items[:300]]
        first = tuple(WatchKey(i, Interval.M1) for i in ids)  # exactly one stream's worth
        async with running(sim, clock, first, history_candles=0) as run:
            await run.live()
            await wait_for(all_active(run), 20, "300 series ACTIVE on one stream")
            connection = run.feed._connection
            assert connection is not None and connection.renewals == 0
            healthy = connection.channel
            # The next stream's start waits longer than its open bound (5 s of wall time here).
            sim.faults.delay(12 * clock.speed)
            run.feed.watch((*first, WatchKey(ids[0], Interval.M5)))  # no look-up: the id is known

            def second_gave_up() -> bool:
                return any("no confirmation within" in (e.reason or "") for e in run.events)

            await wait_for(second_gave_up, 20, "the second stream to give up on its confirmation")
            sim.faults.delay(0)
            await wait_for(all_active(run), 30, "301 series ACTIVE on two streams")
            # Stream 0 kept streaming all along: the channel was not replaced under it.
            assert connection.renewals == 0 and connection.channel is healthy
            assert not any("channel replaced" in (e.reason or "") for e in run.events)

"""Recovery scenarios against the simulator: every end is survived with no candle lost."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from monitor.feed.health import ConnectionState, WatchState
from monitor.feed.streams import STABLE_AFTER_S
from monitor.market import Interval, WatchKey
from tests.feed.feedkit import WATCH, Running, book_matches, sim_config, wait_for
from tests.sim.helpers import active_subscriptions

L, R, S = ConnectionState.LIVE, ConnectionState.RECONNECTING, ConnectionState.STALE


def subscriptions(sim: Any) -> int:
    counts = active_subscriptions(sim.stats)
    return sum(counts.values()) if isinstance(counts, dict) else int(counts)


async def settled(run: Running, sim: Any) -> None:
    """LIVE, every watch entry ACTIVE, the server holding candles + last price + info per uid."""
    await run.live()
    await wait_for(
        lambda: all(w.state is WatchState.ACTIVE for w in run.feed.health.watch.values()), 10, "ACTIVE"
    )
    await wait_for(lambda: subscriptions(sim) == 3 * len(WATCH), 10, "server subscriptions")


async def recovered(run: Running, sim: Any, reconnects: int = 1) -> None:
    await wait_for(lambda: run.feed.health.reconnects >= reconnects, 10, "a reconnect")
    await settled(run, sim)
    for key in WATCH:
        await book_matches(run, sim, key.id)


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("CLEAN", None),
        ("CANCELLED", None),
        ("UNAVAILABLE", None),
        ("STREAM_REMOVED", None),
        ("LIFETIME", "80005"),
    ],
)
async def test_server_ends_the_stream(
    start_feed: Callable[..., Running], sim: Any, kind: str, code: str | None
) -> None:
    """Clean end, server CANCELLED, UNAVAILABLE, "Stream removed", 80005: one reconnect, no gap."""
    from monitor.sim import StreamEnd

    run = start_feed()
    await settled(run, sim)
    assert sim.faults.end_streams(StreamEnd[kind]) == 1
    await recovered(run, sim)
    assert run.states() == [ConnectionState.CONNECTING, L, R, L]
    reconnecting = run.events[2]
    assert reconnecting.attempt == 1 and reconnecting.code == code
    assert sim.stats.streams_opened == 2


async def test_lifetime_end_of_a_stable_stream_reconnects_at_once(
    start_feed: Callable[..., Running], sim: Any, clock: Any
) -> None:
    """80005 after a stable stream is routine: no backoff delay; right after opening, the curve."""
    from monitor.sim import StreamEnd

    run = start_feed()
    await settled(run, sim)
    with capture_logs() as logs:
        assert sim.faults.end_streams(StreamEnd.LIFETIME) == 1  # young stream: backoff as usual
        await recovered(run, sim)
        opened = clock.now()
        await wait_for(lambda: clock.now() > opened + STABLE_AFTER_S + 5, 10, "the stream to be stable")
        assert sim.faults.end_streams(StreamEnd.LIFETIME) == 1
        await recovered(run, sim, reconnects=2)
    delays = [e["delay"] for e in logs if e["event"] == "stream_reconnecting"]
    assert len(delays) == 2 and delays[0] > 0.5 and delays[1] == 0.0
    assert [e.code for e in run.events if e.state is R] == ["80005", "80005"]


async def test_server_killed_and_restarted(start_feed: Callable[..., Running], sim: Any, clock: Any) -> None:
    """The server dies mid-stream and a new one comes up on the same port: gap backfilled."""
    from monitor.sim import SimServer

    run = start_feed()
    await settled(run, sim)
    for key in WATCH:
        await book_matches(run, sim, key.id)
    port = sim.port
    await sim.stop()
    await wait_for(lambda: run.feed.health.state is R, 10, "RECONNECTING")
    down = clock.now()
    # Each failed attempt ends at once and plans the next: the outage lasts until the delays are long.
    await wait_for(lambda: clock.now() > down + 300, 10, "time to pass")
    async with SimServer(sim_config(port), clock=clock) as second:
        await recovered(run, second)
        assert run.states()[:3] == [ConnectionState.CONNECTING, L, R]
        assert run.states()[-1] is L
        book = run.feed.book
        await wait_for(
            lambda: all(len(book.series(k).backfilled) > 0 and not book.series(k).gaps for k in book.keys()),  # noqa: SIM118
            10,
            "gaps to be backfilled",
        )


async def test_silent_stall_is_caught_by_the_watchdog(start_feed: Callable[..., Running], sim: Any) -> None:
    """No data and no pings: STALE after stale_after, then reconnect and backfill."""
    run = start_feed()
    await settled(run, sim)
    sim.faults.stall(True)
    await wait_for(lambda: S in run.states(), 10, "STALE")
    sim.faults.stall(False)
    await recovered(run, sim)
    # The sim drops what it would have sent while stalled; a subscription answer lost that way
    # is caught by the open deadline (one more RECONNECTING) before LIVE.
    assert run.states()[:4] == [ConnectionState.CONNECTING, L, S, R]
    assert run.states()[-1] is L
    assert set(run.states()[4:]) <= {R, L}
    assert run.events[2].reason.startswith("no message for")


async def test_idle_stream_80004_parks_until_something_is_watched(
    start_feed: Callable[..., Running], sim: Any
) -> None:
    """Only an unknown instrument: the stream holds nothing, 80004 ends it quietly; a good
    instrument added later is subscribed."""
    run = start_feed(watch=(WatchKey("NOPE_TQBR", Interval.M1),))
    bad = WatchKey("NOPE_TQBR", Interval.M1)
    await wait_for(lambda: run.feed.health.watch[bad].state is WatchState.FAILED, 10, "FAILED")
    assert run.feed.health.watch[bad].reason == "instrument not found"
    await wait_for(lambda: len(sim.stats.sessions) == 0, 10, "80004 to close the idle stream")
    assert R not in run.states()
    run.feed.watch((bad, *WATCH))
    await run.live()
    await wait_for(lambda: subscriptions(sim) == 3 * len(WATCH), 10, "server subscriptions")
    assert run.feed.health.watch[bad].state is WatchState.FAILED


async def test_bad_token_fails_once_and_never_spins(
    start_feed: Callable[..., Running], sim: Any, clock: Any
) -> None:
    """UNAUTHENTICATED is fatal: AUTH_FAILED after one attempt; reconnect_now tries once more."""
    with capture_logs() as logs:
        run = start_feed(token="t.wrong")

        def attempts() -> int:
            return sum(1 for entry in logs if entry["event"] == "stream_ended")

        await wait_for(lambda: run.feed.health.state is ConnectionState.AUTH_FAILED, 10, "AUTH_FAILED")
        await wait_for(lambda: attempts() == 1, 10, "the stream attempt to end")
        start = clock.now()
        await wait_for(lambda: clock.now() - start > 600, 10, "ten sim minutes")
        assert attempts() == 1
        assert sim.stats.streams_opened == 0
        assert R not in run.states() and L not in run.states()
        assert all(e.code in (None, "40003") for e in run.events)
        run.feed.reconnect_now()
        await wait_for(lambda: attempts() == 2, 10, "one more attempt")
        await wait_for(lambda: run.feed.health.state is ConnectionState.AUTH_FAILED, 10, "AUTH_FAILED again")
    assert not any("t.wrong" in repr(entry) for entry in logs)


async def test_80001_waits_for_the_stream_counter(start_feed: Callable[..., Running], sim: Any) -> None:
    """Stream limit exceeded: the next attempt is at least two minutes later, then recovery."""
    from monitor.sim import StreamEnd

    run = start_feed()
    await settled(run, sim)
    sim.faults.refuse_streams(True)
    sim.faults.end_streams(StreamEnd.UNAVAILABLE)
    await wait_for(lambda: any(e.code == "80001" for e in run.events), 10, "80001")
    slow = next(e for e in run.events if e.code == "80001")
    assert slow.state is R
    assert run.feed.health.next_retry_at is not None
    assert run.feed.health.next_retry_at - slow.at >= 120
    sim.faults.refuse_streams(False)
    await recovered(run, sim, reconnects=2)


async def test_reconnect_now_during_a_long_wait_starts_the_attempt_and_says_so(
    start_feed: Callable[..., Running], sim: Any, clock: Any
) -> None:
    """r during a 2-minute 80001 wait: the attempt is announced as starting now, then LIVE."""
    from monitor.sim import StreamEnd

    run = start_feed()
    await settled(run, sim)
    sim.faults.refuse_streams(True)
    sim.faults.end_streams(StreamEnd.UNAVAILABLE)
    await wait_for(lambda: any(e.code == "80001" for e in run.events), 10, "80001")
    waiting_until = run.feed.health.next_retry_at
    assert waiting_until is not None and waiting_until - clock.now() > 60
    sim.faults.refuse_streams(False)
    asked = clock.now()
    run.feed.reconnect_now()
    await recovered(run, sim, reconnects=2)
    slow = [e for e in run.events if e.code == "80001"]
    assert len(slow) == 2  # the wait, then the same attempt announced again as started
    assert slow[0].attempt == slow[1].attempt and asked <= slow[1].at < waiting_until
    assert run.events[-1].state is L


async def test_watch_change_while_reconnecting_is_honoured(
    start_feed: Callable[..., Running], sim: Any, clock: Any
) -> None:
    """A watchlist edit made during an outage is what the new stream subscribes."""
    from monitor.sim import SimServer

    run = start_feed()
    await settled(run, sim)
    port = sim.port
    await sim.stop()
    await wait_for(lambda: run.feed.health.state is R, 10, "RECONNECTING")
    changed = (WATCH[0], WatchKey("LKOH_TQBR", Interval.M5))
    run.feed.watch(changed)
    async with SimServer(sim_config(port), clock=clock) as second:
        await wait_for(lambda: run.feed.health.state is L, 10, "LIVE")
        await wait_for(lambda: subscriptions(second) == 3 * len(changed), 10, "new subscriptions")
        await wait_for(
            lambda: all(w.state is WatchState.ACTIVE for w in run.feed.health.watch.values()), 10, "ACTIVE"
        )
        assert set(run.feed.health.watch) == set(changed)

"""A rejected token stops every call (stream, GetCandles, look-ups) until the reconnect, losing nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from monitor.feed.health import ConnectionState, WatchState
from monitor.market import Interval, SeriesKey, WatchKey
from tests.feed.feedkit import WATCH, Running, book_matches, wait_for

QUIET_S = 1200.0
"""Clock seconds a rejected feed is watched for calls: past every old backfill retry (5 … 60 s)."""


def calls(sim: Any) -> tuple[int, int]:
    return sim.stats.unary_calls, sim.stats.stream_calls


async def settled(run: Running, sim: Any) -> None:
    await run.live()
    await wait_for(
        lambda: all(w.state is WatchState.ACTIVE for w in run.feed.health.watch.values()), 10, "ACTIVE"
    )
    for key in WATCH:
        await book_matches(run, sim, key.id)


async def no_calls_while_rejected(run: Running, sim: Any, clock: Any) -> None:
    """AUTH_FAILED with the server's reason, then not one call for QUIET_S of clock time."""
    await wait_for(lambda: run.feed.health.state is ConnectionState.AUTH_FAILED, 10, "AUTH_FAILED")
    # Calls already on the wire when the rejection came back still land: let them.
    start = clock.now()
    await wait_for(lambda: clock.now() - start > 5, 10, "in-flight calls to land")
    before, start = calls(sim), clock.now()
    await wait_for(lambda: clock.now() - start > QUIET_S, 30, "a long stretch of clock time")
    assert calls(sim) == before
    assert run.feed.health.state is ConnectionState.AUTH_FAILED
    assert run.feed.health.last_reason.startswith("UNAUTHENTICATED")
    assert run.events[-1].state is ConnectionState.AUTH_FAILED and run.events[-1].code == "40003"


async def test_rejected_token_stops_every_call_and_the_reconnect_fills_the_gap(
    start_feed: Callable[..., Running], sim: Any, clock: Any
) -> None:
    """The token is revoked mid-run: the stream's reconnect is rejected, then silence; after `r`
    with the token accepted again the outage's gap is backfilled to the simulator's history."""
    from monitor.sim import StreamEnd

    run = start_feed()
    await settled(run, sim)
    sim.faults.reject_tokens(True)
    sim.faults.end_streams(StreamEnd.UNAVAILABLE)
    await no_calls_while_rejected(run, sim, clock)
    sim.faults.reject_tokens(False)
    run.feed.reconnect_now()
    await run.live()
    for key in WATCH:
        await book_matches(run, sim, key.id)


async def test_a_rejected_getcandles_alone_stops_every_call(
    start_feed: Callable[..., Running], sim: Any, clock: Any
) -> None:
    """The stream is fine, a new series' history load is rejected: AUTH_FAILED, the streams end
    and nothing is called; after `r` the new series gets its history and the rest its gap."""
    run = start_feed()
    await settled(run, sim)
    opened = sim.stats.streams_opened
    sim.faults.reject_tokens(True)  # the open stream keeps serving: only new calls are rejected
    extra = WatchKey(WATCH[0].id, Interval.M5)  # resolved already: no look-up, just GetCandles
    run.feed.watch((*WATCH, extra))
    await no_calls_while_rejected(run, sim, clock)
    assert not sim.stats.sessions  # the feed ended its stream: it held a rejected token
    sim.faults.reject_tokens(False)
    run.feed.reconnect_now()
    await run.live()
    assert sim.stats.streams_opened > opened
    for key in WATCH:
        await book_matches(run, sim, key.id)
    series = SeriesKey(run.uid(extra.id), Interval.M5)
    await wait_for(
        lambda: (found := run.feed.book.find(series)) is not None and len(found) >= 20, 10, "M5 history"
    )


async def test_a_rejected_lookup_stops_every_call(
    start_feed: Callable[..., Running], sim: Any, clock: Any
) -> None:
    """A new instrument's look-up is rejected: the same stop; after `r` it resolves and streams."""
    run = start_feed()
    await settled(run, sim)
    sim.faults.reject_tokens(True)
    extra = WatchKey("LKOH_TQBR", Interval.M1)
    run.feed.watch((*WATCH, extra))
    await no_calls_while_rejected(run, sim, clock)
    assert run.feed.instrument(extra.id) is None
    sim.faults.reject_tokens(False)
    run.feed.reconnect_now()
    await run.live()
    for key in (*WATCH, extra):
        await book_matches(run, sim, key.id)


async def test_a_search_with_a_rejected_token_says_so_and_asks_nothing(
    start_feed: Callable[..., Running], sim: Any
) -> None:
    """Search does not wait for the reconnect (the user is typing): it raises TokenRejected, which
    the search screen shows, and sends no FindInstrument while the token stays rejected."""
    import pytest

    from monitor.feed import TokenRejected

    run = start_feed()
    await settled(run, sim)
    assert [i.ticker for i in await run.feed.search("Sber")][:1] == ["SBER"]
    sim.faults.reject_tokens(True)
    with pytest.raises(TokenRejected, match="token rejected"):
        await run.feed.search("Gazp")  # the call that learns of the rejection
    await wait_for(lambda: run.feed.health.state is ConnectionState.AUTH_FAILED, 10, "AUTH_FAILED")
    before = calls(sim)
    with pytest.raises(TokenRejected, match="reconnect"):
        await run.feed.search("Lukoil")  # no call at all now
    assert calls(sim) == before


async def test_a_wrong_token_stops_calls_and_the_fixed_one_goes_out_at_the_reconnect(
    start_feed: Callable[..., Running], sim: Any, clock: Any
) -> None:
    """Started with a token the server does not know: AUTH_FAILED, no calls; `r` with the user's
    fixed token (`reconnect_now(token)`) sends that one on every call, and the feed goes LIVE."""
    run = start_feed(token="t.not-the-right-one")
    await no_calls_while_rejected(run, sim, clock)
    run.feed.reconnect_now(token=sim.token)
    await run.live()
    await settled(run, sim)
    assert run.feed.config.token == sim.token
    assert all(value != "Bearer t.not-the-right-one" for _, value in run.feed._metadata)

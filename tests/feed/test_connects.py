"""TCP connects during an outage follow the feed's backoff, counted by a listener on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from monitor.clock import ScaledClock
from monitor.feed import instruments
from monitor.feed.channel import open_channel
from monitor.feed.config import FeedConfig
from monitor.feed.connection import Connection
from monitor.feed.connectivity import probe
from monitor.feed.health import ConnectionState
from monitor.feed.history import HistoryClient, HistoryError
from monitor.feed.instruments import InstrumentResolver, SearchFailed
from monitor.feed.supervisor import Feed
from monitor.market import Interval
from tests.feed.feedkit import WATCH, Running, wait_for
from tests.netfault.measure import schedule_attempts

SPEED = 10.0
"""Slow enough for gRPC core's wall-clock timers to show: a 40 clock s outage lasts 4 wall s."""
OUTAGE_S = 40.0
SLACK = 2
"""Connects allowed beyond the feed's attempts (a call on a channel gone IDLE may open one)."""


class ConnectCounter:
    """A TCP listener on 127.0.0.1 that counts accepts: forwards to `target` or, cut, closes each
    at once (a dead server) or holds it silent (a stalled handshake: the connect never completes)."""

    def __init__(self, target: int | None = None) -> None:
        self.target = target
        self.accepts = 0
        self.hold = False
        self._pipes: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cut(self, hold: bool = False) -> None:
        """The server is gone: open connections are reset, new ones closed as soon as accepted
        (or, with `hold`, kept open and silent until the client gives up on them)."""
        self.target, self.hold, pipes = None, hold, list(self._pipes)
        for writer in pipes:
            writer.transport.abort()

    def restore(self, target: int) -> None:
        self.target = target

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepts += 1
        if self.target is None and self.hold:
            with contextlib.suppress(OSError):
                await reader.read()  # until the client closes it
            writer.transport.abort()
            return
        if self.target is None:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self._pipes |= {writer, up_writer}
        try:
            await asyncio.gather(_pump(reader, up_writer), _pump(up_reader, writer))
        finally:
            self._pipes -= {writer, up_writer}


async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.transport.abort()


@pytest.fixture
def slow_clock() -> ScaledClock:
    return ScaledClock(speed=SPEED)


@pytest.fixture
async def counter() -> AsyncIterator[ConnectCounter]:
    listener = ConnectCounter()
    await listener.start()
    yield listener
    await listener.stop()


@pytest.fixture
async def slow_sim(slow_clock: ScaledClock) -> AsyncIterator[Any]:
    from monitor.sim import SimConfig, SimServer

    config = SimConfig(host="127.0.0.1", tokens=("sim-token",), seed=1, speed=SPEED, sessions=False)
    async with SimServer(config, clock=slow_clock) as server:
        yield server


def _feed(counter: ConnectCounter, clock: ScaledClock, **overrides: Any) -> Running:
    values: dict[str, Any] = {
        "endpoint": counter.address,
        "token": "sim-token",
        "plaintext": True,
        "mode": "DEMO",
        "stale_after_s": 600.0,
        "reconcile_interval_s": 3600.0,
        "history_candles": 5,
    }
    values.update(overrides)
    feed = Feed(config=FeedConfig(**values), clock=clock)
    feed.watch(WATCH)
    return Running(feed)


async def _outage(run: Running, counter: ConnectCounter, clock: ScaledClock, sim: Any) -> tuple[int, int]:
    """Cuts the link for OUTAGE_S clock seconds, then restores it; (connects, attempts announced).

    Asserts LIVE again within the delay still to run when the link came back + 1 clock s.
    """
    await run.live()
    assert counter.accepts == 1  # streams, look-ups and history share one connection
    reconnects, start = run.feed.health.reconnects, clock.now()
    counter.cut()
    await wait_for(lambda: clock.now() > start + OUTAGE_S, 3 * OUTAGE_S / SPEED, "the outage to last")
    connects, attempts = counter.accepts - 1, run.feed.health.reconnects - reconnects
    lives = sum(e.state is ConnectionState.LIVE for e in run.events)
    retry_at = run.feed.health.next_retry_at
    counter.restore(sim.port)
    back = clock.now()
    await wait_for(lambda: sum(e.state is ConnectionState.LIVE for e in run.events) > lives, 30, "LIVE")
    live = next(e.at for e in reversed(run.events) if e.state is ConnectionState.LIVE)
    assert live <= max(back, retry_at or back) + 1.0, (live - back, (retry_at or back) - back)
    return connects, attempts


async def test_an_outage_connects_only_when_the_feed_attempts(
    counter: ConnectCounter, slow_sim: Any, slow_clock: ScaledClock
) -> None:
    """40 clock s (4 wall s) of a server that closes every connection: gRPC core adds no connect
    of its own (it reconnected every 0.5 wall s), the attempts follow the feed's backoff, and
    the feed is LIVE within the delay left when the server is back + 1 clock s."""
    counter.restore(slow_sim.port)
    run = _feed(counter, slow_clock)
    try:
        connects, attempts = await _outage(run, counter, slow_clock, slow_sim)
    finally:
        await run.stop()
    assert 1 <= attempts <= schedule_attempts(OUTAGE_S) + 1  # announced: the last may still wait
    assert connects <= min(attempts, schedule_attempts(OUTAGE_S)) + SLACK, (connects, attempts)


async def test_streams_failing_together_connect_once_per_attempt(
    counter: ConnectCounter, slow_sim: Any, slow_clock: ScaledClock
) -> None:
    """Two stream slots on one channel, both retrying: a slot coming after the other uses the
    channel the other one renewed, so the connects stay within one slot's schedule + the slack."""
    counter.restore(slow_sim.port)
    run = _feed(counter, slow_clock, subscriptions_per_stream=1)  # one candle subscription each
    try:
        await run.live()
        await wait_for(lambda: len(slow_sim.stats.sessions) == 2, 10, "two streams")
        connects, attempts = await _outage(run, counter, slow_clock, slow_sim)
        await wait_for(lambda: len(slow_sim.stats.sessions) == 2, 10, "two streams again")
    finally:
        await run.stop()
    assert attempts > schedule_attempts(OUTAGE_S)  # both slots retried
    assert connects <= schedule_attempts(OUTAGE_S) + SLACK, (connects, attempts)


async def test_a_hanging_connect_is_given_up_at_the_next_attempt(
    counter: ConnectCounter, slow_sim: Any, slow_clock: ScaledClock
) -> None:
    """A server that accepts and never answers: each attempt ends at the open deadline and the
    next one replaces the channel rather than wait out core's own connect deadline (240 s, as
    long as its backoff); one connect per attempt, LIVE again once the server answers."""
    counter.restore(slow_sim.port)
    run = _feed(counter, slow_clock, connect_timeout_s=5.0)
    try:
        await run.live()
        reconnects, start = run.feed.health.reconnects, slow_clock.now()
        counter.cut(hold=True)
        await wait_for(lambda: slow_clock.now() > start + OUTAGE_S, 3 * OUTAGE_S / SPEED, "the outage")
        connects, attempts = counter.accepts - 1, run.feed.health.reconnects - reconnects
        counter.restore(slow_sim.port)
        await run.live(30)
    finally:
        await run.stop()
    assert 1 <= attempts <= schedule_attempts(OUTAGE_S) + 1  # announced: the last may still wait
    assert connects <= min(attempts, schedule_attempts(OUTAGE_S)) + SLACK, (connects, attempts)


async def test_unary_calls_waiting_in_an_outage_add_no_connects(
    counter: ConnectCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backfill (GetCandles with its retries), a look-up waiting for the channel (1.5 wall s
    deadline) and the watcher's probe, all on a channel whose connect failed: the one connect
    is the first call's; gRPC core tried again every 0.5 s while the look-up waited."""
    monkeypatch.setattr(instruments, "UNARY_TIMEOUT_S", 1.5)
    connection = Connection(lambda: open_channel(FeedConfig(endpoint=counter.address, plaintext=True)))
    connection.open()
    headers = (("authorization", "Bearer t"),)
    history = HistoryClient(connection, headers, clock=ScaledClock(speed=300.0))
    try:
        with pytest.raises(HistoryError, match="UNAVAILABLE"):
            await history.recent("uid", Interval.M1, 5)
        assert history.requests == 5  # the call and its four transient retries
        with pytest.raises(grpc.aio.AioRpcError) as waited:
            await InstrumentResolver(connection, headers).resolve("SBER_TQBR")
        assert waited.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        assert "failed to connect" in await probe(connection.channel)
        assert counter.accepts == 1
    finally:
        await connection.close()


async def test_a_look_up_caught_on_a_replaced_channel_goes_again_on_the_new_one(
    counter: ConnectCounter, slow_sim: Any
) -> None:
    """The stream attempt replaces the failed channel while a look-up waits on it: the close
    cancels the look-up, which is sent again on the new channel and answered there."""
    connection = Connection(lambda: open_channel(FeedConfig(endpoint=counter.address, plaintext=True)))
    failed = connection.open()
    resolver = InstrumentResolver(connection, (("authorization", "Bearer sim-token"),))
    try:
        waiting = asyncio.create_task(resolver.resolve("SBER_TQBR"))
        failing = grpc.ChannelConnectivity.TRANSIENT_FAILURE
        await wait_for(lambda: failed.get_state() is failing, 10, "the connect to fail")
        counter.restore(slow_sim.port)
        renewed = await connection.for_attempt(failed)
        assert renewed is not failed and connection.renewals == 1
        assert (await waiting).ticker == "SBER"
        assert await connection.for_attempt(renewed) is renewed  # READY: kept
    finally:
        await connection.close()


async def test_r_renews_a_failed_channel_when_no_stream_would(
    counter: ConnectCounter, slow_sim: Any, slow_clock: ScaledClock
) -> None:
    """Nothing watched, so no stream attempt replaces the channel: `r` (reconnect_now) replaces
    the failed one, so the next search is answered (a search renews it too: test_search_reconnect)."""
    run = _feed(counter, slow_clock)
    run.feed.watch(())
    try:
        await wait_for(lambda: bool(run.events), 10, "the feed to start")
        with pytest.raises(SearchFailed):
            await run.feed.search("SBER")  # the first call connects: the server is not there
        counter.restore(slow_sim.port)
        failed = run.feed._connection.channel if run.feed._connection else None
        run.feed.reconnect_now()
        assert failed is not None and run.feed._connection is not None
        assert run.feed._connection.channel is not failed and counter.accepts == 1
        found = await run.feed.search("SBER")
        assert any(i.ticker == "SBER" for i in found) and counter.accepts == 2
    finally:
        await run.stop()

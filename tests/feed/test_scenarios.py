"""Feed scenarios against the real simulator: bad ids, sharding, pacing, TLS, session opens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import trustme

from monitor.clock import Clock, ScaledClock
from monitor.feed.health import ConnectionState, WatchState
from monitor.feed.supervisor import Feed
from monitor.market import Interval, Quote, WatchKey
from monitor.wire import quotation_to_float
from tests.feed.feedkit import SPEED, WATCH, Running, book_matches, feed_config, patient, sim_config, wait_for
from tests.sim.helpers import active_subscriptions, candle_subscriptions

TICKERS = ("SBER", "GAZP", "LKOH")


@asynccontextmanager
async def simulator(clock: Clock, **overrides: Any) -> AsyncIterator[Any]:
    from monitor.sim import SimServer

    server = SimServer(replace(sim_config(), **overrides), clock=clock)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def running(
    sim: Any, clock: Clock, watch: tuple[WatchKey, ...], **overrides: Any
) -> AsyncIterator[Running]:
    feed = Feed(config=feed_config(sim, **overrides), clock=clock)
    feed.watch(watch)
    run = Running(feed)
    try:
        yield run
    finally:
        await run.stop()


def all_active(run: Running) -> Callable[[], bool]:
    return lambda: all(w.state is WatchState.ACTIVE for w in run.feed.health.watch.values())


async def test_unknown_instrument_fails_alone(start_feed: Callable[..., Running], sim: Any) -> None:
    """One unknown id: FAILED "instrument not found", looked up once; the others stream and match."""
    bad = WatchKey("NOPE_TQBR", Interval.M1)
    run = start_feed((*WATCH, bad))
    await run.live()
    await wait_for(
        lambda: all(run.feed.health.watch[k].state is WatchState.ACTIVE for k in WATCH), 10, "good"
    )
    entry = run.feed.health.watch[bad]
    assert entry.state is WatchState.FAILED and entry.reason == "instrument not found"
    for key in WATCH:
        await book_matches(run, sim, key.id)
    # Several sim minutes later (and after a reconnect): still one look-up, nothing subscribed for it.
    from monitor.sim import StreamEnd

    sim.faults.end_streams(StreamEnd.UNAVAILABLE)
    await wait_for(lambda: run.feed.health.reconnects >= 1, 10, "a reconnect")
    await run.live()
    await wait_for(all_active_of(run, WATCH), 10, "ACTIVE again")
    assert sim.stats.lookups["NOPE"] == 1
    assert run.feed.health.watch[bad].state is WatchState.FAILED
    assert sum(active_subscriptions(sim.stats).values()) == 3 * len(WATCH)


def all_active_of(run: Running, keys: tuple[WatchKey, ...]) -> Callable[[], bool]:
    return lambda: all(run.feed.health.watch[k].state is WatchState.ACTIVE for k in keys)


async def test_candle_subscriptions_beyond_a_stream_open_a_second_one(clock: ScaledClock) -> None:
    """301 candle series at the real 300 a stream (sim and feed agree): two streams, none over 300."""
    async with simulator(clock) as sim:
        ids = [i.instrument.symbol for i in sim.state.catalogue.items[:301]]
        watch = tuple(WatchKey(i, Interval.M1) for i in ids)
        # No history: the in-process sim would block the loop building the backfills.
        async with running(sim, clock, watch, history_candles=0, **patient(SPEED)) as run:
            await run.live()
            await wait_for(all_active(run), 20, "every series ACTIVE")

            def two_streams_split() -> bool:
                return sorted(candle_subscriptions(sim.stats).values()) == [1, 300]

            await wait_for(two_streams_split, 10, "two streams, 300 and 1")
            assert sim.stats.limit_exceeded == 0  # the feed sharded by itself; nothing was refused
            assert run.feed.health.streams == 2
            await book_matches(run, sim, "SBER_TQBR")


async def test_a_burst_of_subscription_changes_is_paced(start_feed: Callable[..., Running], sim: Any) -> None:
    """134 watch changes one key at a time: over 100 requests, none refused, every series ACTIVE."""
    ids = [f"{i.ticker}_{i.class_code}" for i in sim.catalogue[:16]]  # the hand-written instruments
    # Intraday intervals and no history: the sim runs in this process, and building months of
    # minutes for 150 backfills would block the loop (and trip the stale watchdog) for seconds.
    keys = [WatchKey(i, iv) for iv in Interval if iv.seconds <= 14_400 for i in ids][:150]
    first = len(ids)  # one series per instrument first, so every later change needs no look-up
    run = start_feed(tuple(keys[:first]), history_candles=0)
    registry = run.feed._subscriptions.registry
    seen: set[WatchState] = set()
    run.feed.add_listener(lambda: seen.update(w.state for w in run.feed.health.watch.values()))
    await run.live()
    await wait_for(all_active(run), 10, "first ACTIVE")
    async with asyncio.timeout(30):
        for count in range(first + 1, len(keys) + 1):
            run.feed.watch(keys[:count])
            # Until the writer sent this change, paced as it must be: a change that waited for the
            # next one would go out merged with it, and the count of requests would depend on how
            # busy the machine is (it fell to 94 under load).
            while registry.pending(0):
                await asyncio.sleep(0.001)
    try:
        await wait_for(lambda: len(run.feed.health.watch) == 150 and all_active(run)(), 30, "150 ACTIVE")
    except AssertionError:
        raise AssertionError(_debug(run, sim)) from None
    assert sim.stats.subscribe_requests > 100  # the burst really went past one minute's allowance
    assert sim.stats.too_many_requests == 0
    assert WatchState.RETRYING not in seen
    assert run.feed.health.state is ConnectionState.LIVE and run.feed.health.reconnects == 0


def _tls_files(tmp_path: Path) -> tuple[str, str, str]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_pem, cert_pem, key_pem = tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    cert_pem.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key_pem))
    return str(ca_pem), str(cert_pem), str(key_pem)


async def test_tls_with_the_ca_file_goes_live(clock: ScaledClock, tmp_path: Path) -> None:
    """A sim with a private-CA certificate: the feed trusting that CA connects over TLS."""
    ca, cert, key = _tls_files(tmp_path)
    async with (
        simulator(clock, tls_cert=cert, tls_key=key) as sim,
        running(sim, clock, WATCH, plaintext=False, ca_file=ca) as run,
    ):
        await run.live()
        await wait_for(all_active(run), 10, "ACTIVE")
        await book_matches(run, sim, WATCH[0].id)


async def test_tls_without_the_ca_file_names_the_setting(clock: ScaledClock, tmp_path: Path) -> None:
    """Without the CA the handshake fails, and the reason says which setting fixes it."""
    _, cert, key = _tls_files(tmp_path)
    async with (
        simulator(clock, tls_cert=cert, tls_key=key) as sim,
        running(sim, clock, WATCH, plaintext=False) as run,
    ):
        await wait_for(lambda: "--ca-file" in run.feed.health.last_reason, 10, "a TLS reason")
        reason = run.feed.health.last_reason
        assert "connection.ca_file" in reason and "TLS handshake failed" in reason
        assert "certificate" in reason
        assert run.feed.health.state is not ConnectionState.LIVE
        assert sim.stats.streams_opened == 0


class _NearMidnight:
    """A fast clock that starts `before` seconds ahead of a UTC midnight (for the rollover)."""

    def __init__(self, before: float, speed: float = SPEED) -> None:
        now = time.time()
        self.midnight = Interval.D1.next_start(Interval.D1.start_of(int(now)))
        self._start = self.midnight - before
        self._t0 = time.monotonic()
        self.speed = speed

    def now(self) -> float:
        return self._start + (time.monotonic() - self._t0) * self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)


def _sim_day_open(sim: Any, uid: str, day: int) -> float:
    from monitor.sim import convert

    item = sim.state.catalogue.resolve(uid)
    found = sim.market.candle(uid, Interval.D1, day, sim.clock.now())
    assert found is not None
    return quotation_to_float(convert.quotation(item, found[0].open))


async def test_session_open_comes_from_today_and_rolls_over() -> None:
    """session_open is today's D1 open (forming candle), and the next day's after midnight UTC."""
    clock = _NearMidnight(before=300)
    yesterday, today = clock.midnight - 86_400, clock.midnight
    async with simulator(clock) as sim, running(sim, clock, WATCH) as run:
        await run.live()
        uid = run.uid(WATCH[0].id)

        def quote() -> Quote:
            return run.feed.book.quotes.get(uid) or Quote()

        first = _sim_day_open(sim, uid, yesterday)
        await wait_for(lambda: quote().session_open == first, 10, "the open of the day")
        assert clock.now() < today  # set before the rollover
        await wait_for(lambda: clock.now() > today + 60, 10, "midnight")
        second = _sim_day_open(sim, uid, today)
        assert second != first
        await wait_for(lambda: quote().session_open == second, 10, "the next day's open")
        other = run.feed.book.quotes[run.uid(WATCH[1].id)]
        assert other.session_open == _sim_day_open(sim, run.uid(WATCH[1].id), today)
        assert quote().change is not None


def _debug(run: Running, sim: Any) -> str:
    from collections import Counter

    states = Counter(w.state for w in run.feed.health.watch.values())
    return f"{states} {sim.stats} {run.feed.health.last_reason}"

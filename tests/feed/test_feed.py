"""Feed behaviour beyond reconnects: corrections, slow consumers, listeners, lifecycle."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from monitor.feed import WatchView
from monitor.feed.config import FeedConfig
from monitor.feed.health import ConnectionState, WatchState
from monitor.feed.registry import Outcome, SubKey, SubKind
from monitor.feed.supervisor import Feed
from monitor.feed.testing import ManualClock
from monitor.market import Instrument, Interval, Origin, SeriesKey, WatchKey
from monitor.pb import marketdata_pb2 as md
from monitor.wire import seconds_to_timestamp, to_quotation
from tests.feed.feedkit import WATCH, Running, feed_config, wait_for

T0 = 1_795_000_020 - 1_795_000_020 % 60


def _message(time: int, close: str) -> md.MarketDataResponse:
    candle = md.Candle(
        interval=md.SUBSCRIPTION_INTERVAL_ONE_MINUTE,
        open=to_quotation("100"),
        high=to_quotation("101"),
        low=to_quotation("99"),
        close=to_quotation(close),
        volume=5,
        time=seconds_to_timestamp(time),
        instrument_uid="uid-1",
    )
    return md.MarketDataResponse(candle=candle)


def _deliver(feed: Feed, response: md.MarketDataResponse, now: float) -> None:
    feed._receiver.on_candle(response.candle, now)


def _offline_feed(clock: ManualClock) -> Feed:
    """A feed with one resolved series and no I/O (drives the receive handler directly)."""
    feed = Feed(config=FeedConfig(endpoint="127.0.0.1:1", plaintext=True), clock=clock)
    feed._subscriptions._resolved["X_TQBR"] = Instrument("uid-1", "F", "X", "TQBR", "X", 1, Decimal("0.01"))
    feed.watch((WatchKey("X_TQBR", Interval.M1),))
    return feed


def test_correction_candle_overwrites_the_closed_one() -> None:
    """A late correction for a closed period replaces it (upsert by start time), never duplicates."""
    clock = ManualClock(T0 + 30)
    feed = _offline_feed(clock)
    seen: list[tuple[float, bool]] = []
    feed.add_candle_listener(lambda key, candle: seen.append((candle.close, candle.closed)))
    _deliver(feed, _message(T0, "100.5"), clock.now())
    key = SeriesKey("uid-1", Interval.M1)
    series = feed.book.series(key)
    assert series.forming is not None and series.forming.close == 100.5
    clock.advance(40)  # the period ended on the clock: still forming until the server moves on
    _deliver(feed, _message(T0, "100.7"), clock.now())
    assert not series.get(T0).closed  # type: ignore[union-attr]
    _deliver(feed, _message(T0 + 60, "100.8"), clock.now())
    clock.advance(5)
    _deliver(feed, _message(T0, "100.6"), clock.now())  # a correction after later data
    candles = list(series)
    assert [c.time for c in candles] == [T0, T0 + 60]
    assert candles[0].closed and candles[0].close == 100.6 and candles[0].origin is Origin.STREAM
    assert not candles[1].closed
    # The later period closes T0 with the values held then (announced once, before the new
    # period's first update); the server's own change after that is a closed correction.
    assert seen == [(100.5, False), (100.7, False), (100.7, True), (100.8, False), (100.6, True)]


def test_listener_errors_never_reach_the_receive_loop() -> None:
    """A raising listener is logged and skipped."""
    clock = ManualClock(T0 + 10)
    feed = _offline_feed(clock)

    def broken() -> None:
        raise RuntimeError("boom")

    calls: list[int] = []
    feed.add_listener(broken)
    feed.add_listener(lambda: calls.append(1))
    _deliver(feed, _message(T0, "100.5"), clock.now())
    assert calls == [1]
    forming = feed.book.series(SeriesKey("uid-1", Interval.M1)).forming
    assert forming is not None and forming.close == 100.5


def test_outcomes_drive_watch_states() -> None:
    """CONFIRMED → ACTIVE (and LIVE), FAILED → FAILED with the reason."""
    clock = ManualClock(T0)
    feed = _offline_feed(clock)
    key = SubKey(SubKind.CANDLES, "uid-1", Interval.M1)
    feed._subscriptions.apply_outcomes([(key, Outcome.FAILED, "instrument not found")])
    watch = feed.health.watch[WatchKey("X_TQBR", Interval.M1)]
    assert (watch.state.value, watch.reason) == ("failed", "instrument not found")


async def test_stalled_consumer_does_not_stall_the_receive_loop(
    start_feed: Callable[..., Running], sim: Any
) -> None:
    """A slow listener and a UI that never reads: data keeps flowing, memory stays bounded."""
    run = start_feed(history_candles=5)
    slow_calls = [0]

    def slow(_key: SeriesKey, _candle: Any) -> None:
        slow_calls[0] += 1
        time.sleep(0.0005)  # a consumer doing blocking work on every candle

    run.feed.add_candle_listener(slow)
    await run.live()
    before = run.feed.health.messages
    await wait_for(lambda: run.feed.health.messages > before + 500, 20, "500 more messages")
    assert run.feed.health.state is ConnectionState.LIVE
    assert slow_calls[0] > 0
    # Everything the feed keeps is bounded: events, series, the backfill queue.
    assert len(run.feed.health.events) <= 200
    for key in run.feed.book.keys():  # noqa: SIM118  (CandleBook is not a mapping)
        assert len(run.feed.book.series(key)) <= run.feed.book.capacity
    assert run.feed._backfill._jobs.qsize() == 0
    assert {k.id for k in run.feed.health.watch} == {k.id for k in WATCH}


async def test_async_with_runs_the_feed_and_run_after_close_restarts(sim: Any, clock: Any) -> None:
    """`async with` runs the feed and closes it; run() again reconnects with the book and keys kept."""
    key = WATCH[0]
    unknown = WatchKey("NOPE_TQBR", Interval.M1)
    async with Feed(config=feed_config(sim), clock=clock) as feed:
        assert feed.view(unknown) == WatchView(unknown, WatchState.RESOLVING)
        feed.watch(WATCH)
        await wait_for(lambda: feed.health.state is ConnectionState.LIVE, 10, "LIVE")
        await wait_for(lambda: feed.view(key).age(clock.now()) is not None, 10, "streamed data")
        view = feed.view(key)
        assert view.state is WatchState.ACTIVE and view.instrument is not None
        assert view.instrument is feed.instrument(key.id)
        assert view.series is not None and view.series.key.uid == view.instrument.uid
        series = view.series
    assert feed.health.state is ConnectionState.DOWN and feed.health.last_reason == "closed"
    held = len(series)
    task = asyncio.create_task(feed.run())
    await wait_for(lambda: feed.health.state is ConnectionState.LIVE, 10, "LIVE again")
    await wait_for(lambda: feed.view(key).state is WatchState.ACTIVE, 10, "ACTIVE again")
    assert feed.view(key).series is series and len(series) >= held
    await feed.close()
    await asyncio.wait_for(task, 5)
    assert feed.health.state is ConnectionState.DOWN

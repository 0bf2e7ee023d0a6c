"""Hostile server data: every malformed message is skipped and counted, and the stream lives on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest
from structlog.testing import capture_logs

from monitor.feed.config import FeedConfig
from monitor.feed.health import ConnectionState, Health, WatchState
from monitor.feed.receive import Receiver
from monitor.feed.session import StreamSession
from monitor.feed.subscriptions import Subscriptions
from monitor.feed.testing import ManualClock
from monitor.market import Candle, CandleBook, SeriesKey
from monitor.pb import marketdata_pb2 as md
from tests.feed.feedkit import WATCH, Running, book_matches, wait_for

REASONS = {
    "unknown-field": "unknown message kind",
    "no-time": "candle without time",
    "no-prices": "candle without prices",
    "mixed-sign": "malformed quotation: units",
    "nano-overflow": "malformed quotation: nano",
    "high-below-low": "candle high/low inconsistent",
    "far-future": "candle time out of range",
    "far-past": "candle time out of range",
    "unsubscribed": "candle for an unsubscribed series",
    "huge": "oversized ping stream_id",
    "price-mixed-sign": "malformed last price: units",
    "price-far-future": "last price time out of range",
    "price-unsubscribed": "last price for an unsubscribed instrument",
    "status-unknown": "unknown trading status 99",
    "status-unsubscribed": "trading status for an unsubscribed instrument",
}


def sane(candle: Candle, now: float) -> bool:
    return (
        0 < candle.low <= min(candle.open, candle.close) <= max(candle.open, candle.close) <= candle.high
        and abs(candle.time - now) < 45 * 86_400
    )


async def settled(run: Running) -> None:
    await run.live()
    await wait_for(
        lambda: all(w.state is WatchState.ACTIVE for w in run.feed.health.watch.values()), 10, "ACTIVE"
    )


@pytest.mark.parametrize("kind", sorted(REASONS))
async def test_hostile_message_is_skipped_and_counted(
    start_feed: Callable[..., Running], sim: Any, kind: str
) -> None:
    """Each kind: counted once with its reason, logged, never in the book; the stream stays LIVE."""
    run = start_feed()
    applied: list[tuple[SeriesKey, Candle, float]] = []
    run.feed.add_candle_listener(lambda key, c: applied.append((key, c, run.feed.clock.now())))
    await settled(run)
    await book_matches(run, sim, WATCH[0].id)
    with capture_logs() as logs:
        assert sim.faults.hostile(kind) == 1
        await wait_for(lambda: run.feed.health.bad_messages == 1, 10, "the bad message counted")
    health = run.feed.health
    assert health.last_bad_reason.startswith(REASONS[kind])
    assert [e["kind"] for e in logs if e["event"] == "bad_message_skipped"] == [REASONS[kind].split(":")[0]]
    # The stream keeps delivering: later candles arrive and the book still equals the ground truth.
    after = len(applied)
    await wait_for(lambda: len(applied) > after + 2, 10, "more candles")
    for key in WATCH:
        await book_matches(run, sim, key.id)
    assert all(sane(c, now) for _, c, now in applied)
    uids = {run.uid(k.id) for k in WATCH}
    assert {key.uid for key, _, _ in applied} <= uids
    # Prices and phases only of watched instruments, and no quote stamped ahead of the clock
    # (the book keeps the newest price: one from tomorrow would freeze the quote until then).
    book, clock = run.feed.book, run.feed.clock
    assert set(book.quotes) <= uids and set(health.trading) <= uids
    assert all(q.time is None or q.time <= clock.now() + 300 for q in book.quotes.values())
    assert health.state is ConnectionState.LIVE and health.reconnects == 0
    assert health.bad_messages == 1


async def test_every_kind_at_once_logs_each_kind_once(start_feed: Callable[..., Running], sim: Any) -> None:
    """A flood of bad messages: each counted, one log line per kind, and the feed stays LIVE."""
    from monitor.sim import HostileKind

    run = start_feed()
    await settled(run)
    with capture_logs() as logs:
        for _ in range(3):
            for kind in HostileKind:
                sim.faults.hostile(kind)
        await wait_for(lambda: run.feed.health.bad_messages == 3 * len(HostileKind), 10, "all counted")
    kinds = [e["kind"] for e in logs if e["event"] == "bad_message_skipped"]
    assert len(kinds) == len(set(kinds)) == len({r.split(":")[0] for r in REASONS.values()})
    await book_matches(run, sim, WATCH[1].id)
    assert run.feed.health.state is ConnectionState.LIVE and run.feed.health.reconnects == 0


async def test_a_handler_error_never_escapes_the_receive_loop() -> None:
    """A message whose handling raises is counted as bad; the next one is still read (the
    candle fast path as well as the others)."""

    class Boom(Receiver):
        def __init__(self, subscriptions: Subscriptions) -> None:
            super().__init__(
                book=CandleBook(),
                health=Health(),
                subscriptions=subscriptions,
                emit=lambda: None,
                emit_candle=lambda key, candle: None,
            )
            self.bad_reasons: list[str] = []
            self.seen = 0
            self.candles = 0

        def on_message(self, response: md.MarketDataResponse, payload: str | None, now: float) -> None:
            self.seen += 1
            if self.seen == 1:
                raise RuntimeError("boom")

        def on_candle(self, msg: md.Candle, now: float) -> None:
            self.candles += 1
            if self.candles == 1:
                raise ValueError("candle boom")

        def bad(self, reason: str, detail: str = "") -> None:
            self.bad_reasons.append(reason)

    class Call:
        def __init__(self) -> None:
            candle = md.MarketDataResponse(candle=md.Candle(figi="F"))
            self.items = [md.MarketDataResponse(), candle, candle, md.MarketDataResponse()]

        def __aiter__(self) -> Any:
            return self._responses()

        async def _responses(self) -> Any:
            # The session iterates the call (`async for`), as grpc.aio's stream calls allow.
            while self.items:
                yield self.items.pop(0)

    clock = ManualClock()
    subscriptions = Subscriptions(
        config=FeedConfig(), clock=clock, health=Health(), book=CandleBook(), on_change=lambda: None
    )
    handler = Boom(subscriptions)
    channel = grpc.aio.insecure_channel("127.0.0.1:1")  # never used: _read gets the fake call
    session = StreamSession(
        stream=0,
        channel=channel,
        metadata=(),
        registry=subscriptions.registry,
        clock=clock,
        config=FeedConfig(),
        receiver=handler,
        on_outcomes=lambda outcomes: None,
        on_stale=lambda silent_for: None,
    )
    ending = await session._read(Call())
    await channel.close()
    assert ending.status is None
    assert handler.seen == 2 and handler.candles == 2
    assert handler.bad_reasons == ["message handling failed"] * 2

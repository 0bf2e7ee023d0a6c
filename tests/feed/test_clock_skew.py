"""Clock skew and lag from the session's stamps: minimum-filtered, in wall seconds, warned about once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC
from typing import Any

import grpc
from structlog.testing import capture_logs

from monitor.feed import CLOCK_SKEW_WARN_S
from monitor.feed.config import FeedConfig
from monitor.feed.health import Health
from monitor.feed.listeners import Announcer, Listeners
from monitor.feed.receive import Receiver
from monitor.feed.session import StreamSession
from monitor.feed.subscriptions import Subscriptions
from monitor.feed.testing import ManualClock
from monitor.market import CandleBook
from monitor.pb import common_pb2
from monitor.pb import marketdata_pb2 as md
from monitor.ui.widgets.status_bar import StatusInfo, status_text
from monitor.wire import seconds_to_timestamp
from tests.feed.feedkit import FastManualClock

T0 = 1_764_000_000.0


def ping(sent_at: float | None) -> md.MarketDataResponse:
    message = common_pb2.Ping(stream_id="s")
    if sent_at is not None:
        message.time.CopyFrom(seconds_to_timestamp(sent_at))
    return md.MarketDataResponse(ping=message)


def candle(last_trade: float) -> md.MarketDataResponse:
    return md.MarketDataResponse(candle=md.Candle(figi="F", last_trade_ts=seconds_to_timestamp(last_trade)))


class Call:
    """A fake stream call: (clock seconds to advance first, response) pairs."""

    def __init__(self, clock: ManualClock, items: list[tuple[float, md.MarketDataResponse]]) -> None:
        self.clock, self.items = clock, items

    def __aiter__(self) -> AsyncIterator[md.MarketDataResponse]:
        return self._responses()

    async def _responses(self) -> AsyncIterator[md.MarketDataResponse]:
        for step, response in self.items:
            self.clock.advance(step)
            yield response


async def read(clock: ManualClock, items: list[tuple[float, md.MarketDataResponse]]) -> list[tuple[Any, ...]]:
    """Runs a session's receive loop over `items`; returns the (stream, skew, lag) it reported."""
    health, book = Health(), CandleBook()
    subscriptions = Subscriptions(
        config=FeedConfig(), clock=clock, health=health, book=book, on_change=lambda: None
    )
    receiver = Receiver(
        book=book,
        health=health,
        subscriptions=subscriptions,
        emit=lambda: None,
        emit_candle=lambda k, c: None,
    )
    reported: list[tuple[Any, ...]] = []
    channel = grpc.aio.insecure_channel("127.0.0.1:1")  # never used: _read gets the fake call
    session = StreamSession(
        stream=2,
        channel=channel,
        metadata=(),
        registry=subscriptions.registry,
        clock=clock,
        config=FeedConfig(),
        receiver=receiver,
        on_outcomes=lambda outcomes: None,
        on_stale=lambda silent_for: None,
        on_timing=lambda *args: reported.append(args),
    )
    await session._read(Call(clock, items))
    await channel.close()
    return reported


async def test_a_ping_measures_the_skew_in_wall_seconds() -> None:
    """Our clock minus the server's send time; against a 300x simulator, in wall seconds."""
    clock = ManualClock(T0)
    assert await read(clock, [(0.0, ping(T0 - 3.25))]) == [(2, 3.25, 0.0)]
    fast = FastManualClock(speed=300.0)
    # 30 sim-seconds = 0.1 s of network delay at 300x
    [(stream, skew, lag)] = await read(fast, [(0.0, ping(T0 - 30.0)), (1.0, ping(None))])
    assert stream == 2 and abs(skew - 0.1) < 1e-6 and lag == 0.0


async def test_the_skew_is_the_minimum_offset_so_a_late_ping_reads_as_lag_not_skew() -> None:
    """A naive skew (the newest ping) would say the clock is 40 s off; the data is 40 s late."""
    reported = await read(ManualClock(T0), [(0.0, ping(T0 - 0.2)), (15.0, ping(T0 + 15 - 40.0))])
    _, skew, lag = reported[-1]
    assert abs(skew - 0.2) < 1e-3 and abs(lag - 39.8) < 1e-3


async def test_data_is_sampled_a_few_times_a_second_and_every_ping_is() -> None:
    """The receive loop pays one comparison per candle; the meter gets one every SAMPLE_EVERY_S."""
    items = [(0.01, candle(T0 + 0.01 * n)) for n in range(1, 501)]  # 100 candles/s for 5 s
    items += [(0.01, ping(T0 + 5.01)), (0.01, ping(T0 + 5.02))]
    reported = await read(ManualClock(T0), items)
    assert 20 <= len(reported) <= 23  # 5 s x 4 samples a second, and both pings
    assert all(abs(lag) < 0.02 for _, _, lag in reported)


def _announcer() -> tuple[Announcer, Health, list[Any]]:
    health, listeners = Health(), Listeners()
    events: list[Any] = []
    listeners.events.append(events.append)
    return Announcer(health=health, clock=ManualClock(T0), listeners=listeners), health, events


def test_the_health_version_moves_only_when_the_skew_moved_visibly() -> None:
    announce, health, _ = _announcer()
    announce.timing(0, 0.01, 0.0)
    version = health.version
    announce.timing(0, 0.02, 0.0)
    assert health.version == version  # 10 ms of jitter: no redraw
    announce.timing(0, 4.0, 0.0)
    assert health.version == version + 1 and health.clock_skew == 4.0


def test_a_skewed_clock_is_logged_once_and_shown_in_the_status_bar() -> None:
    announce, health, events = _announcer()
    info = StatusInfo(False, 0, None, "utc")
    with capture_logs() as logs:
        announce.timing(0, 0.3, 0.0)
        assert "clock" not in status_text(health, info, T0, UTC).plain
        for _ in range(3):
            announce.timing(0, -5.0, 0.0)  # ours 5 s behind the server
    assert [e["event"] for e in logs if e["event"] == "clock_skew"] == ["clock_skew"]
    assert abs(health.clock_skew or 0) >= CLOCK_SKEW_WARN_S
    assert "⚠ clock -5.0s" in status_text(health, info, T0 + 3, UTC).plain
    assert events == []  # a skew is no transition


def test_a_lag_crossing_is_announced_as_an_event() -> None:
    announce, health, events = _announcer()
    with capture_logs() as logs:
        announce.timing(1, 0.1, 7.0)
        announce.timing(1, 0.1, 7.5)
        announce.timing(1, 0.1, 1.0)
    assert [(e.lagging, e.lag) for e in events] == [(True, 7.0), (False, 1.0)]
    assert [e["lagging"] for e in logs if e["event"] == "feed_lag"] == [True, False]
    assert health.lagging is None

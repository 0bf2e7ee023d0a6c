"""FakeFeed behaves like the real feed where the UI can tell: restart after close, the read model."""

from __future__ import annotations

import asyncio

import pytest

from monitor.feed import ConnectionState, WatchState
from monitor.feed.testing import FakeFeed, wave_candles
from monitor.market import Interval, WatchKey

SBER = WatchKey("SBER_TQBR", Interval.M1)


def _state(feed: FakeFeed) -> ConnectionState:
    return feed.health.state  # read through a call: each assert looks at the state anew


async def test_run_after_close_restarts_and_reports_the_transitions() -> None:
    feed = FakeFeed()
    states: list[ConnectionState] = []
    feed.add_event_listener(lambda event: states.append(event.state))
    task = asyncio.create_task(feed.run())
    await asyncio.sleep(0)
    assert _state(feed) is ConnectionState.LIVE
    await feed.close()
    await task
    assert feed.closed and _state(feed) is ConnectionState.DOWN
    again = asyncio.create_task(feed.run())
    await asyncio.sleep(0)
    assert (feed.run_calls, feed.closed) == (2, False) and _state(feed) is ConnectionState.LIVE
    feed.crash(RuntimeError("boom"))
    with pytest.raises(RuntimeError, match="boom"):
        await again
    assert _state(feed) is ConnectionState.DOWN and "boom" in feed.health.last_reason
    assert states == [
        ConnectionState.LIVE,
        ConnectionState.DOWN,
        ConnectionState.CONNECTING,
        ConnectionState.LIVE,
        ConnectionState.DOWN,
    ]


def test_the_view_shows_state_series_quote_and_age() -> None:
    feed = FakeFeed(auto_activate=False)
    unknown = WatchKey("NOPE_TQBR", Interval.M1)
    feed.watch([SBER, unknown])
    assert feed.view(unknown).state is WatchState.FAILED and feed.view(unknown).reason
    view = feed.view(SBER)
    assert view.state is WatchState.PENDING and view.age(feed.clock.now()) is None
    seen: list[float] = []
    feed.add_candle_listener(lambda key, candle: seen.append(candle.close))
    feed.push_candles(SBER.id, SBER.interval, wave_candles(0, Interval.M1, 3, 100.0))
    view = feed.view(SBER)
    assert view.series is not None and len(view.series) == 3 and len(seen) == 3
    assert view.quote is not None and view.quote.price == seen[-1]
    assert view.instrument is not None and view.instrument.ticker == "SBER"
    assert view.age(feed.clock.now() + 5) == 5.0

"""Chart scroll-back (`Feed.load_older`) through a TCP fault proxy: a lagging or slow link, a reset or
a refusal mid-page, a silent stall of the GetCandles call.

Each test runs a simulator at SPEED, a FaultProxy in front of it and a feed through it
(tests/netfault/rig.py), asks for one page of older candles (a day of 1m candles, ~100 kB) and
switches a fault on while it is in flight. What holds: `load_older` returns at once with the panel
saying loading; the page lands with no gap and no duplicate at the seam (equal to the simulator's
history), or ends in `history.error` naming the reason; and the next page lands once the link is
good again.
"""

from __future__ import annotations

from typing import Any

import pytest

from monitor.feed import history as history_module
from monitor.market import Candle, CandleSeries, Interval, Origin, SeriesKey, WatchKey
from tests.feed.feedkit import book_matches, wait_for
from tests.netfault.rig import Rig, rig

SPEED = 120.0
"""Sim seconds per wall second: a minute candle every 0.5 s."""
KEY = WatchKey("SBER_TQBR", Interval.M1)
DAY = 86_400
NET: dict[str, Any] = {"stale_after_s": 120.0, "connect_timeout_s": 60.0}
"""As tests/feed/test_network.py: 1 wall s of silence is stale, an unanswered attempt ends in 0.5 s."""
SLOW_LINK = 60_000
"""Bytes per second each way: the live stream takes ~25 kB/s of it at SPEED, so a page (~100 kB)
takes a few wall seconds, well within the call's deadline (history.CALL_DEADLINE_S)."""
PAGE_TIMEOUT_S = 40.0


class PageLog:
    """The candles the feed announced for KEY: the page's (older than the oldest held when asked)
    and the live stream's, each with whether the panel said loading when it came."""

    def __init__(self, net: Rig) -> None:
        self.net = net
        self.heard: list[tuple[Candle, bool]] = []
        net.feed.add_candle_listener(self._on_candle)

    def _on_candle(self, key: SeriesKey, candle: Candle) -> None:
        if key == self.net.key(KEY):
            self.heard.append((candle, self.net.feed.view(KEY).history.loading))

    def older_than(self, time: int) -> list[int]:
        return [c.time for c, _ in self.heard if c.time < time]

    def live_while_loading(self) -> int:
        return sum(1 for c, loading in self.heard if loading and c.origin is Origin.STREAM)


async def looking_back(net: Rig) -> CandleSeries:
    """LIVE with the initial history in, the user looking at the oldest candle held."""
    await net.run.live()
    await wait_for(lambda: net.series(KEY).history_loaded, 10, "the initial history")
    series = net.series(KEY)
    assert series.oldest is not None
    series.anchor = series.oldest.time
    return series


def ask_page(net: Rig, series: CandleSeries) -> int:
    """Asks for one older page; returns the oldest time held when asked (the seam).

    `load_older` only queues the page: it returns at once and the panel says loading before any
    answer (the UI never waits on the network).
    """
    assert series.oldest is not None
    seam = series.oldest.time
    net.feed.load_older(KEY)
    state = net.feed.view(KEY).history
    assert state.loading and state.error is None
    return seam


async def page_ended(net: Rig) -> None:
    await wait_for(lambda: not net.feed.view(KEY).history.loading, PAGE_TIMEOUT_S, "the page to end")


async def landed_whole(net: Rig, series: CandleSeries, log: PageLog, seam: int) -> None:
    """The page is in: a day of candles before the seam, each announced once, the seam's own
    candle not again, the book contiguous and equal to the simulator's history."""
    await page_ended(net)
    assert net.feed.view(KEY).history.error is None
    assert series.oldest is not None and series.oldest.time == seam - DAY
    assert log.older_than(seam) == list(range(seam - DAY, seam, 60))  # no gap, no seam duplicate
    # The whole series too, once the backfill has filled what an outage left at the live edge.
    await wait_for(lambda: contiguous(series), 10, "the outage's gap at the live edge filled")
    await book_matches(net.run, net.sim, KEY.id, timeout=10)


def contiguous(series: CandleSeries) -> bool:
    """One candle per minute from the oldest held to the newest (the sim has no sessions)."""
    held = [c.time for c in series]
    return held == list(range(held[0], held[-1] + 60, 60))


async def midway(net: Rig, since: tuple[int, int]) -> None:
    """Waits until the page's call is out and part of its answer came through the slow link (the
    page is still loading: the rest is on the way)."""
    calls, received = since

    def in_flight() -> bool:
        return net.sim.stats.unary_calls > calls and net.proxy.bytes_down > received + 30_000

    await wait_for(in_flight, 20, "part of the page")
    assert net.feed.view(KEY).history.loading


def counters(net: Rig) -> tuple[int, int]:
    return net.sim.stats.unary_calls, net.proxy.bytes_down


@pytest.mark.parametrize(
    "fault", ["latency", "slow-link"], ids=["latency-0.3s", f"bandwidth-{SLOW_LINK // 1000}kBps"]
)
async def test_a_page_over_a_lagging_link_shows_loading_then_lands_with_no_gap_at_the_seam(
    fault: str,
) -> None:
    async with rig(SPEED, (KEY,), **NET) as net:
        series = await looking_back(net)
        log = PageLog(net)
        if fault == "latency":
            net.proxy.set_latency(0.3, jitter=0.1)
        else:
            net.proxy.set_bandwidth(SLOW_LINK)
        seam = ask_page(net, series)
        await landed_whole(net, series, log, seam)
        if fault == "latency":
            # The page is off the receive loop: live candles kept coming while it was in flight.
            # (A capped link queues them behind the page's bytes, as one TCP connection does.)
            assert log.live_while_loading() >= 1
            assert net.feed.health.reconnects == 0
        # (On the capped link the page's bytes delay the stream past stale_after_s, 1 wall s here:
        # the feed may reconnect meanwhile; the page lands all the same.)
        net.proxy.restore()
        edge = series.newest.time if series.newest is not None else 0
        await wait_for(lambda: series.newest is not None and series.newest.time > edge, 10, "live candles")
        await book_matches(net.run, net.sim, KEY.id, timeout=10)


async def test_a_reset_mid_page_sends_it_again_and_it_lands_whole() -> None:
    async with rig(SPEED, (KEY,), **NET) as net:
        series = await looking_back(net)
        log = PageLog(net)
        net.proxy.set_bandwidth(SLOW_LINK)
        since = counters(net)
        seam = ask_page(net, series)
        await midway(net, since)
        connections = net.proxy.connections
        net.proxy.reset()
        net.proxy.restore()
        await landed_whole(net, series, log, seam)
        assert net.proxy.connections > connections  # it came over a new connection


@pytest.mark.parametrize(
    ("counted", "reason"),
    [(False, "connection refused"), (True, "the connection was reset")],
    ids=["econnrefused", "accept-and-rst"],
)
async def test_a_refusal_mid_page_names_it_and_the_next_page_lands_once_the_link_is_back(
    counted: bool, reason: str
) -> None:
    async with rig(SPEED, (KEY,), **NET) as net:
        series = await looking_back(net)
        net.proxy.set_bandwidth(SLOW_LINK)
        since = counters(net)
        seam = ask_page(net, series)
        await midway(net, since)
        net.proxy.refuse(counted=counted)
        net.proxy.reset()
        await page_ended(net)
        error = net.feed.view(KEY).history.error
        assert error is not None and error.startswith("older candles unavailable: "), error
        assert reason in error, error
        assert "\n" not in error and "ipv4:" not in error, error  # the user's words, not gRPC's
        assert series.oldest is not None and series.oldest.time == seam  # nothing half-merged
        net.proxy.restore()
        await net.run.live(20)
        log = PageLog(net)
        seam = ask_page(net, series)  # asking again clears the error
        await landed_whole(net, series, log, seam)


async def test_a_stalled_page_ends_at_its_deadline_and_the_next_lands(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A blackholed link answers nothing: the call ends at CALL_DEADLINE_S (once more, then it says
    so) instead of "loading…" for good, though the feed renews the channel meanwhile."""
    deadline_s = 1.0
    monkeypatch.setattr(history_module, "CALL_DEADLINE_S", deadline_s)
    async with rig(SPEED, (KEY,), **NET) as net:
        series = await looking_back(net)
        net.proxy.blackhole()
        seam = ask_page(net, series)
        net.feed.load_older(KEY)  # a page in flight: asking again queues no second one
        await page_ended(net)
        error = net.feed.view(KEY).history.error
        assert error == f"older candles unavailable: no answer within {deadline_s:g} s: the link is stalled"
        assert series.oldest is not None and series.oldest.time == seam
        net.proxy.restore()
        await net.run.live(20)
        log = PageLog(net)
        seam = ask_page(net, series)
        await landed_whole(net, series, log, seam)

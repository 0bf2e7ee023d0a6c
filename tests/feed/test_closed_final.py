"""Closed means final: a candle closes on the server's word (a later period on the same stream, or
GetCandles' is_complete), never because our clock passed the end of its period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from monitor.feed.backfill import CONFIRM_AFTER_S
from monitor.feed.health import ConnectionState
from monitor.feed.testing import ManualClock
from monitor.market import Candle, Interval, Origin, SeriesKey
from tests.feed.feedkit import WATCH, Running, wait_for
from tests.feed.test_feed import T0, _deliver, _message, _offline_feed
from tests.feed.test_recovery import recovered, settled

KEY = SeriesKey("uid-1", Interval.M1)


def _closed_events(feed: Any) -> list[tuple[int, float, bool]]:
    seen: list[tuple[int, float, bool]] = []
    feed.add_candle_listener(lambda key, c: seen.append((c.time, c.close, c.closed)))
    return seen


def test_the_clock_never_closes_a_candle() -> None:
    """Ten minutes past the end of its period with nothing more from the server: still forming."""
    clock = ManualClock(T0 + 10)
    feed = _offline_feed(clock)
    _deliver(feed, _message(T0, "100.5"), clock.now())
    clock.advance(600)
    feed._backfill.queue_unconfirmed()  # no stream is up: nothing to confirm with yet
    series = feed.book.series(KEY)
    assert series.get(T0).closed is False  # type: ignore[union-attr]
    assert series.unconfirmed_before(KEY.interval.start_of(int(clock.now()))) == T0


def test_a_later_period_on_the_same_stream_closes_the_earlier_once_first() -> None:
    clock = ManualClock(T0 + 10)
    feed = _offline_feed(clock)
    seen = _closed_events(feed)
    _deliver(feed, _message(T0, "100.5"), clock.now())
    _deliver(feed, _message(T0, "100.6"), clock.now() + 1)
    _deliver(feed, _message(T0 + 60, "101"), clock.now() + 55)
    _deliver(feed, _message(T0 + 60, "100.9"), clock.now() + 56)
    assert seen == [(T0, 100.5, False), (T0, 100.6, False), (T0, 100.6, True), (T0 + 60, 101, False),
                    (T0 + 60, 100.9, False)]  # fmt: skip


def test_a_late_forming_update_after_the_close_is_ignored() -> None:
    clock = ManualClock(T0 + 10)
    feed = _offline_feed(clock)
    _deliver(feed, _message(T0, "100.5"), clock.now())
    _deliver(feed, _message(T0 + 60, "101"), clock.now())
    seen = _closed_events(feed)
    _deliver(feed, _message(T0, "99"), clock.now())  # a correction: the server moved past T0
    assert seen == [(T0, 99.0, True)]


def test_after_the_stream_ends_a_new_streams_later_period_closes_nothing() -> None:
    """The old stream may have dropped the period's last trades: only history can confirm it."""
    clock = ManualClock(T0 + 10)
    feed = _offline_feed(clock)
    _deliver(feed, _message(T0, "100.5"), clock.now())
    feed._receiver.restart(KEY)  # what the supervisor does when a stream ends
    seen = _closed_events(feed)
    _deliver(feed, _message(T0 + 120, "100.2"), clock.now() + 120)
    series = feed.book.series(KEY)
    assert series.get(T0).closed is False  # type: ignore[union-attr]
    assert seen == [(T0 + 120, 100.2, False)]
    assert series.unconfirmed_before(T0 + 120) == T0


def test_a_rewatched_series_does_not_close_what_it_held_before() -> None:
    clock = ManualClock(T0 + 10)
    feed = _offline_feed(clock)
    _deliver(feed, _message(T0, "100.5"), clock.now())
    watched = tuple(feed.health.watch)
    feed.watch(())
    feed._receiver.on_candle(_message(T0, "100.9").candle, clock.now())  # builds the routes again
    feed.watch(watched)
    _deliver(feed, _message(T0 + 120, "100.2"), clock.now() + 120)
    assert feed.book.series(KEY).get(T0).closed is False  # type: ignore[union-attr]


class _History:
    """GetCandles as the server answers it: the complete candles of the periods asked for."""

    def __init__(self, candles: list[Candle]) -> None:
        self.candles = candles
        self.calls: list[tuple[int, int]] = []

    async def fetch(self, uid: str, interval: Interval, start: int, end: int) -> list[Candle]:
        self.calls.append((start, end))
        return [c for c in self.candles if start <= c.time < end]


async def test_an_unconfirmed_period_is_closed_by_history_after_the_grace() -> None:
    clock = ManualClock(T0 + 10)
    feed = _offline_feed(clock)
    backfill = feed._backfill
    backfill._loaded.add(KEY)
    backfill._live.add(KEY)
    _deliver(feed, _message(T0, "100.5"), clock.now())
    clock.advance(60 - 10 + CONFIRM_AFTER_S - 1)  # the period is over, the grace is not
    backfill.queue_unconfirmed()
    assert KEY not in backfill._confirm
    clock.advance(2)
    backfill.queue_unconfirmed()
    assert backfill._confirm == {KEY: T0}
    final = Candle(T0, 100, 101, 99, 100.75, 9, True, Origin.BACKFILL)
    history = _History([final])
    seen = _closed_events(feed)
    await backfill._confirm_work(history, KEY)  # type: ignore[arg-type]
    assert history.calls == [(T0, T0 + 60)]
    assert feed.book.series(KEY).get(T0) == final
    assert seen == [(T0, 100.75, True)]


async def test_a_period_the_stream_confirmed_meanwhile_costs_no_call() -> None:
    clock = ManualClock(T0 + 10)
    feed = _offline_feed(clock)
    backfill = feed._backfill
    backfill._loaded.add(KEY)
    backfill._live.add(KEY)
    _deliver(feed, _message(T0, "100.5"), clock.now())
    clock.advance(60 + CONFIRM_AFTER_S)
    backfill.queue_unconfirmed()
    _deliver(feed, _message(T0 + 60, "101"), clock.now())  # the next period arrived after all
    history = _History([])
    await backfill._confirm_work(history, KEY)  # type: ignore[arg-type]
    assert history.calls == []


async def test_an_outage_across_a_period_end_closes_each_period_once_with_final_values(
    start_feed: Callable[..., Running], sim: Any, clock: Any
) -> None:
    """The period that was forming when the stream went silent is not closed with what arrived
    before the silence: it is closed once, from history, with the server's values."""
    run = start_feed()
    closes: dict[tuple[str, int], list[tuple[float, ...]]] = defaultdict(list)

    def on_candle(key: SeriesKey, candle: Candle) -> None:
        if candle.closed:
            closes[(key.uid, candle.time)].append(candle[1:6])

    run.feed.add_candle_listener(on_candle)
    await settled(run, sim)
    stalled_at = clock.now()
    sim.faults.stall(True)
    # Silent until the watchdog ends the stream (stale_after: 120 clock s, two period ends).
    await wait_for(lambda: ConnectionState.STALE in run.states(), 10, "STALE")
    sim.faults.stall(False)
    await recovered(run, sim)
    uids = [run.uid(key.id) for key in WATCH]
    end = Interval.M1.start_of(int(clock.now())) - 120

    def problem() -> str | None:
        """What is still missing or wrong, once the backfill had its chance."""
        for uid in uids:
            truth = {c.time: c[1:6] for c in sim.history(uid, Interval.M1, int(stalled_at) - 300, end)}
            assert truth, "the simulator traded in the window"
            for time, values in truth.items():
                seen = closes.get((uid, time), [])
                if not seen:
                    return f"{uid} {time} never closed"
                if seen[-1] != pytest.approx(values):
                    return f"{uid} {time}: final {seen[-1]} != {values}"
                distinct = list(dict.fromkeys(seen))
                # A second value only when the server itself corrected the period (late trades).
                if not (
                    len(distinct) == 1 or (len(distinct) == 2 and sim.market.has_correction(uid, time + 60))
                ):
                    return f"{uid} {time} closed with {distinct}"
        return None

    try:
        await wait_for(lambda: problem() is None, 10, "every period closed once, final")
    except AssertionError:
        raise AssertionError(problem()) from None
    # Nothing it closed changes later: the same check long after (corrections long published).
    settled_at = clock.now()
    await wait_for(lambda: clock.now() > settled_at + 120, 10, "two more periods")
    assert problem() is None

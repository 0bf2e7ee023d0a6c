"""GcPolicy's full passes: thresholds raised once it starts, run at idle and at the bound, not in a burst."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from monitor.feed.testing import FakeFeed, ManualClock, wave_candles
from monitor.market import CandleSeries, Interval, SeriesKey
from monitor.ui.gcpolicy import BOUND_S, GEN2_THRESHOLD, IDLE_AFTER_S, GcPolicy
from tests.ui.uikit import MAIN, AppFactory, fill, settle, wait_for

START = 1_764_061_200
FRAME_S = 0.1
"""Clock time between two frames of a burst: well under IDLE_AFTER_S, so a burst never looks idle."""


class Cycle:
    """An object that refers to itself: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


class FullPasses:
    """Counts the collector's gen-2 passes, whoever started them."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            self.count += 1


@pytest.fixture
def full_passes() -> Iterator[FullPasses]:
    # A full pass first: the collector's counts start at zero, so no automatic full pass is near.
    gc.collect()
    counter = FullPasses()
    gc.callbacks.append(counter)
    yield counter
    gc.callbacks.remove(counter)


def bulk_series(count: int = 1_000) -> CandleSeries:
    series = CandleSeries(SeriesKey("uid-sber", Interval.M1))
    series.merge_history(wave_candles(START, Interval.M1, count, 100.0))
    return series


def active(policy: GcPolicy) -> bool:
    # A function rather than the property inline: mypy would keep an asserted value narrowed.
    return policy.active


def started(clock: ManualClock) -> GcPolicy:
    """A policy on `clock` that has frozen once (bulk history landed): it is active."""
    policy = GcPolicy(now=clock.now)
    assert policy.after_tick([bulk_series()]) and active(policy)
    return policy


def test_thresholds_are_raised_only_once_the_policy_starts_and_put_back_by_stop() -> None:
    clock = ManualClock()
    before = gc.get_threshold()
    policy = GcPolicy(now=clock.now)
    assert not policy.after_tick([bulk_series(999)])
    clock.advance(BOUND_S * 3)
    assert not policy.when_idle() and not active(policy)  # not started: the collector runs as it does
    assert gc.get_threshold() == before
    assert policy.after_tick([bulk_series(1_000)]) and active(policy)
    assert gc.get_threshold() == (before[0], before[1], max(before[2], GEN2_THRESHOLD))
    policy.stop()
    assert gc.get_threshold() == before and not active(policy)
    clock.advance(BOUND_S * 3)
    assert not policy.when_idle()  # stopped: no more passes of its own


def test_a_full_pass_runs_once_the_app_is_idle_and_once_per_burst(full_passes: FullPasses) -> None:
    clock = ManualClock()
    policy = started(clock)
    policy.after_tick([])  # a frame
    clock.advance(IDLE_AFTER_S * 0.8)
    policy.note_input()  # a key, before the idle time ran out
    clock.advance(IDLE_AFTER_S * 0.8)
    assert not policy.when_idle() and full_passes.count == 0  # idle since the frame, not since the key
    clock.advance(IDLE_AFTER_S * 0.2)
    assert policy.when_idle() and policy.full_passes == 1 and full_passes.count == 1
    clock.advance(IDLE_AFTER_S * 3)
    assert not policy.when_idle()  # still idle, but nothing happened since the pass
    policy.note_input()
    clock.advance(IDLE_AFTER_S)
    assert policy.when_idle() and policy.full_passes == 2


def test_no_full_pass_runs_during_a_burst_until_the_bound(full_passes: FullPasses) -> None:
    clock = ManualClock()
    policy = started(clock)
    started_at = clock.now()
    while clock.now() - started_at < BOUND_S - FRAME_S:
        # A burst: frames and keys, with the app's check between them as its timer would run it.
        policy.after_tick([])
        policy.note_input()
        assert not policy.when_idle()
        clock.advance(FRAME_S)
    assert full_passes.count == 0
    clock.advance(FRAME_S)
    policy.after_tick([])
    assert policy.when_idle() and full_passes.count == 1  # the bound: busy or not


def test_a_burst_that_allocates_gets_its_full_passes_between_frames_not_inside_them(
    full_passes: FullPasses,
) -> None:
    clock = ManualClock()
    policy = started(clock)
    for _ in range(int(BOUND_S / FRAME_S) - 1):
        policy.after_tick([])
        before = full_passes.count
        junk = [[Cycle() for _ in range(50)] for _ in range(200)]  # a frame that allocates a lot
        del junk
        assert full_passes.count == before  # none inside the frame: the threshold is raised
        policy.when_idle()  # between frames, where the app's timer runs it
        clock.advance(FRAME_S)
    # As often as the collector's own schedule would have (young passes against its old threshold).
    assert policy.full_passes >= 2 and full_passes.count == policy.full_passes


def test_cyclic_garbage_in_the_old_generation_is_collected_within_the_bound(full_passes: FullPasses) -> None:
    clock = ManualClock()
    policy = started(clock)
    made: list[tuple[float, weakref.ref[Cycle]]] = []
    for _ in range(int(BOUND_S * 3 / FRAME_S)):
        policy.after_tick([])
        cycle = Cycle()
        made.append((clock.now(), weakref.ref(cycle)))
        gc.collect(1)  # it survives the young passes while held: it is in the old generation now
        del cycle
        gc.collect(1)
        assert made[-1][1]() is not None  # garbage in the old generation: only a full pass frees it
        policy.when_idle()
        # Anything made a bound (plus one check interval) ago is gone; the newest is not yet.
        assert all(ref() is None for when, ref in made if clock.now() - when > BOUND_S + FRAME_S)
        clock.advance(FRAME_S)
    assert policy.full_passes >= 2
    assert full_passes.count == policy.full_passes  # only the policy's passes freed it


async def test_the_app_raises_thresholds_runs_the_idle_pass_from_its_timer_and_puts_them_back(
    make: AppFactory, feed: FakeFeed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The collector's count never makes a pass due here (startup allocates plenty): the idle one is tested.
    monkeypatch.setattr(gc, "get_count", lambda: (0, 0, 0))
    before = gc.get_threshold()
    fill(feed, MAIN, 1_000)  # each panel holds a page's worth: the first frame freezes
    gc_clock = ManualClock()
    app = make()
    app.gc_policy = policy = GcPolicy(now=gc_clock.now)
    async with app.run_test() as pilot:
        await settle(pilot, app)
        assert active(policy) and gc.get_threshold()[2] == max(before[2], GEN2_THRESHOLD)
        gc_clock.advance(IDLE_AFTER_S * 0.8)
        await pilot.press("down")  # a key, before the idle time ran out
        gc_clock.advance(IDLE_AFTER_S * 0.8)
        assert not policy.when_idle() and policy.full_passes == 0
        gc_clock.advance(IDLE_AFTER_S * 0.2)
        await wait_for(pilot, lambda: policy.full_passes == 1, rounds=1_000)  # the app's timer ran it
    assert gc.get_threshold() == before and not active(policy)

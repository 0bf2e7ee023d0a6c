"""The lag meter: skew and lag told apart from the server's stamps (pure: no network, no clock)."""

from __future__ import annotations

import pytest

from monitor.feed.health import ConnectionState, Health
from monitor.feed.lag import (
    BASELINE_WINDOW_S,
    CAUGHT_UP_S,
    LAG_BOUND_S,
    MAX_OFFSET_S,
    RECENT_S,
    SAMPLE_EVERY_S,
    LagMeter,
)

T0 = 1_764_000_000.0
DETECTION_BOUND_S = 10.0
"""The bound the issue sets for a slow link at real speed: detected within 10 s, not by keepalive."""


def run_link(
    meter: LagMeter,
    *,
    seconds: float,
    skew: float,
    delay: float = 0.05,
    lag_of: object = None,
    start: float = 0.0,
    ping_every: float = 15.0,
) -> list[tuple[float, float | None]]:
    """Feeds `seconds` of a busy stream: a fresh data sample every SAMPLE_EVERY_S, a ping every
    `ping_every`; `lag_of(t)` is the queueing lag at t. Returns (t, measured lag) per sample."""
    readings: list[tuple[float, float | None]] = []
    steps = round(seconds / SAMPLE_EVERY_S)
    for n in range(steps):
        t = start + n * SAMPLE_EVERY_S
        queued = lag_of(t) if callable(lag_of) else 0.0
        jitter = 0.02 * ((n * 7) % 5)  # a few tens of ms, deterministic
        at = T0 + t
        # Stamped when sent (lag behind our receipt), received later by delay + queue, our clock skewed.
        stamp = at - skew - delay - jitter - queued
        fresh = ping_every > 0 and n % round(ping_every / SAMPLE_EVERY_S) == 0
        meter.sample(at, stamp, fresh=fresh)
        readings.append((t, meter.lag(at)))
    return readings


def detected_at(readings: list[tuple[float, float | None]]) -> float | None:
    return next((t for t, lag in readings if lag is not None and lag >= LAG_BOUND_S), None)


def test_a_skewed_clock_with_no_lag_is_not_lagging() -> None:
    """Our clock 30 s ahead (or 12 s behind) of the server's: that is skew, and nothing lags."""
    for skew in (30.0, -12.0):
        meter = LagMeter()
        readings = run_link(meter, seconds=120, skew=skew)
        assert detected_at(readings) is None
        assert max(lag or 0.0 for _, lag in readings) < 0.2
        assert meter.skew == pytest.approx(skew + 0.05, abs=0.01)  # skew + the minimum delay


def test_lag_that_grows_after_start_is_detected_within_the_bound() -> None:
    """A link that slows down after a minute: the queue grows at 0.9 s per second (a throttle to a
    tenth of the data rate). LAGGING well within 10 s of the first delayed message, and the skew
    estimate does not absorb the lag (a naive one would read a 40 s clock error)."""
    meter = LagMeter()
    onset = 60.0
    readings = run_link(
        meter, seconds=110, skew=3.0, lag_of=lambda t: max(0.0, t - onset) * 0.9, ping_every=15.0
    )
    found = detected_at(readings)
    assert found is not None
    assert found - onset <= DETECTION_BOUND_S
    # The lag reads what the queue holds, within the recent window's share of its growth.
    last_t, last_lag = readings[-1]
    assert last_lag == pytest.approx((last_t - onset) * 0.9, abs=0.9 * RECENT_S + 0.2)
    assert meter.skew == pytest.approx(3.05, abs=0.01)


def test_a_step_of_lag_is_detected_within_the_recent_window() -> None:
    """Everything suddenly 8 s late (a link's queue filled at once): announced within RECENT_S plus
    one sampling interval of the first late message."""
    meter = LagMeter()
    readings = run_link(meter, seconds=90, skew=0.5, lag_of=lambda t: 8.0 if t >= 60 else 0.0)
    found = detected_at(readings)
    assert found is not None and found - 60.0 <= RECENT_S + SAMPLE_EVERY_S + 1e-9


def test_an_old_trade_stamp_of_an_illiquid_instrument_is_not_lag() -> None:
    """A ping says the link is on time; then the last price of an instrument that last traded 40 s
    ago (its stamp is old, the message is not late): no lag. The ping and fresh samples decide."""
    meter = LagMeter()
    meter.sample(T0, T0 - 0.1, fresh=True)  # ping
    for n in range(1, 20):
        at = T0 + n * 0.5
        meter.sample(at, T0 - 40.0)  # the same old trade, again and again (closing candles, snapshots)
        assert meter.lag(at) in (0.0, None)  # the ping's reading, then none (nothing fresh)
    meter.sample(T0 + 10.2, T0 + 10.1)  # a fresh trade of a liquid one
    assert meter.lag(T0 + 10.2) == pytest.approx(0.0, abs=1e-3)
    assert meter.skew == pytest.approx(0.1)


def test_old_stamps_first_read_no_lag_and_a_later_ping_sets_the_baseline() -> None:
    """On subscribe, illiquid last prices (hours old) may come before any fresh stamp: each is the
    baseline while it is the best there is, so none reads as lag; the first ping corrects it."""
    meter = LagMeter()
    meter.sample(T0, T0 - 1800.0)
    assert meter.lag(T0) == 0.0
    meter.sample(T0 + 0.1, T0 - 2400.0)  # older than the first: not fresh
    assert meter.lag(T0 + 0.1) == 0.0
    meter.sample(T0 + 0.2, T0 - 600.0)  # newer than every stamp so far
    assert meter.lag(T0 + 0.2) == 0.0
    meter.sample(T0 + 3.0, T0 + 2.9, fresh=True)
    assert meter.lag(T0 + 3.0) == pytest.approx(0.0, abs=1e-3)
    assert meter.skew == pytest.approx(0.1)


def test_no_recent_fresh_sample_means_no_reading() -> None:
    meter = LagMeter()
    assert meter.lag(T0) is None and meter.skew is None
    meter.sample(T0, T0 - 0.1, fresh=True)
    assert meter.lag(T0 + RECENT_S + 0.1) is None  # silence is the watchdog's business, not lag


def test_nonsense_offsets_are_ignored() -> None:
    """A stamp hours in the future would pin the baseline below the truth and read everything
    after it as lag."""
    meter = LagMeter()
    meter.sample(T0, T0 - 0.1, fresh=True)
    meter.sample(T0 + 1, T0 + 1 + MAX_OFFSET_S + 10, fresh=True)
    meter.sample(T0 + 2, T0 + 1.9)
    assert meter.skew == pytest.approx(0.1) and meter.lag(T0 + 2) == pytest.approx(0.0, abs=1e-3)


def test_a_clock_step_forward_stops_reading_as_lag_after_the_baseline_window() -> None:
    """NTP steps our clock 20 s forward: it reads as lag (no stamp can tell the two apart) until the
    samples from before the step leave the long window."""
    meter = LagMeter()
    run_link(meter, seconds=60, skew=0.0, ping_every=0)
    after = run_link(meter, seconds=BASELINE_WINDOW_S + 60, skew=20.0, start=60.0, ping_every=0)
    assert detected_at(after) is not None
    assert after[-1][1] is not None and after[-1][1] < CAUGHT_UP_S
    assert meter.skew == pytest.approx(20.05, abs=0.01)


def test_health_enters_and_leaves_lagging_once_each_with_the_lag() -> None:
    health = Health()
    health.transition(ConnectionState.LIVE, T0)
    assert health.note_lag(0, 1.0, T0) is None and health.lag == {}
    version = health.version
    entered = health.note_lag(0, 6.2, T0 + 1)
    assert entered is not None and entered.lagging is True and entered.lag == 6.2
    assert entered.label == "LAGGING" and "6s behind" in entered.reason
    assert health.lagging == 6.2 and health.version == version + 1
    assert health.note_lag(0, 6.3, T0 + 2) is None and health.version == version + 1  # same second shown
    assert health.note_lag(0, 3.0, T0 + 3) is None and health.lagging == 3.0  # hysteresis: still lagging
    assert health.version == version + 2
    assert health.note_lag(0, None, T0 + 4) is None and health.lagging == 3.0  # nothing fresh: unchanged
    left = health.note_lag(0, 0.4, T0 + 5)
    assert left is not None and left.lagging is False and left.label == "LIVE"
    assert health.lag == {}
    assert [e.lagging for e in health.events] == [None, True, False]


def test_the_lag_is_per_stream_and_ends_with_its_stream() -> None:
    health = Health()
    health.note_lag(1, 9.0, T0)
    health.note_lag(0, 0.1, T0)
    assert health.lag == {1: 9.0} and health.lagging == 9.0
    version = health.version
    health.forget_lag(1)
    assert health.lag == {} and health.version == version + 1
    health.forget_lag(1)
    assert health.version == version + 1

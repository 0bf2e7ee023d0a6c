"""The feed against a simulator whose stamps lag: LAGGING while the data arrives late, not STALE."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

import pytest

from monitor.feed.health import ConnectionState
from monitor.ui.badge import panel_badge
from monitor.ui.widgets.status_bar import StatusInfo, status_text
from tests.feed.feedkit import SPEED, WATCH, Running, wait_for

BOUND_WALL_S, CAUGHT_UP_WALL_S = 0.5, 0.25
"""The test's lag bounds, a tenth of the product's, so that the test lasts seconds, not tens."""
LATE_WALL_S = 1.5
"""How late the simulator sends everything, in wall seconds (450 sim seconds at 300x)."""


@pytest.fixture(autouse=True)
def short_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("monitor.feed.health.LAG_BOUND_S", BOUND_WALL_S)
    monkeypatch.setattr("monitor.feed.health.CAUGHT_UP_S", CAUGHT_UP_WALL_S)


async def test_late_data_reads_lagging_with_its_lag_then_caught_up(
    start_feed: Callable[..., Running], sim: Any
) -> None:
    # A watchdog bound well above the lateness: the first late message comes LATE_WALL_S after the
    # last on-time one, which is a pause, not a dead stream.
    run = start_feed(stale_after_s=10 * LATE_WALL_S * SPEED)
    health = run.feed.health
    await run.live()
    await wait_for(lambda: all(run.feed.view(k).last_data_at is not None for k in WATCH), 10, "candles")
    opened = sim.stats.streams_opened
    assert health.lagging is None
    assert health.clock_skew is not None and abs(health.clock_skew) < 0.1  # one clock: no skew

    sim.faults.late(LATE_WALL_S * SPEED)
    await wait_for(lambda: health.lagging is not None, 10, "LAGGING")
    [entered] = [e for e in run.events if e.lagging]
    assert entered.lag >= BOUND_WALL_S and entered.state is ConnectionState.LIVE
    await wait_for(lambda: (health.lagging or 0) >= LATE_WALL_S * 0.8, 10, "the full lag")
    assert abs((health.lagging or 0) - LATE_WALL_S) < 0.3
    # The clock skew estimate did not absorb the lag.
    assert health.clock_skew is not None and abs(health.clock_skew) < 0.1
    now = run.feed.clock.now()
    line = status_text(health, StatusInfo(), now, UTC).plain
    assert "LAGGING 1s" in line and "LIVE" not in line
    view = run.feed.view(WATCH[0])
    assert view.lag is not None and panel_badge(view, health, now).label == "LAGGING"

    sim.faults.late(0)
    await wait_for(lambda: health.lagging is None, 10, "caught up")
    assert [e.lagging for e in run.events if e.lagging is not None] == [True, False]
    assert health.state is ConnectionState.LIVE
    assert sim.stats.streams_opened == opened  # late is not silent: no reconnect
    assert panel_badge(run.feed.view(WATCH[0]), health, run.feed.clock.now()).label == "LIVE"

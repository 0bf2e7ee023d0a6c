"""Helpers shared by the UI tests: the watchlist text, the clock start, data fillers."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.screen import Screen

from monitor.feed.testing import FakeFeed, wave_candles
from monitor.market import Interval
from monitor.ui.app import MonitorApp

START = 1_764_061_200.0  # 2025-11-25 09:00 UTC (12:00 in Moscow), a trading day
SIZE = (120, 40)
WATCHLIST = """\
# my watchlists (this comment must survive every save)
active = "main"

[[lists]]
name = "main"  # the main list
layout = "2x2"
interval = "1m"
instruments = [
    "SBER_TQBR",  # Sberbank
    "GAZP_TQBR",
    "LKOH_TQBR",
    "YDEX_TQBR",
]

[[lists]]
name = "second"
layout = "1x2"
interval = "1h"
instruments = ["GMKN_TQBR", "VTBR_TQBR"]
"""
MAIN = [
    ("SBER_TQBR", Interval.M1),
    ("GAZP_TQBR", Interval.M1),
    ("LKOH_TQBR", Interval.M1),
    ("YDEX_TQBR", Interval.M1),
]

AppFactory = Callable[..., MonitorApp]


def fill(feed: FakeFeed, ids: list[tuple[str, Interval]], count: int = 60) -> None:
    """Gives each series `count` deterministic candles ending at the clock's current period."""
    now = int(feed.clock.now())
    for seed, (watch_id, interval) in enumerate(ids):
        start = interval.start_of(now) - (count - 1) * interval.seconds
        feed.push_candles(
            watch_id, interval, wave_candles(start, interval, count, 100.0 + 37.0 * seed, seed=seed)
        )


async def settle(pilot: Pilot[int], app: MonitorApp) -> None:
    """Processes pending messages and draws one tick."""
    await pilot.pause()
    app.render_tick()
    await pilot.pause()


async def wait_for(pilot: Pilot[int], condition: Callable[[], bool], rounds: int = 200) -> None:
    """Lets the app run until `condition` holds (bounded; no wall-clock sleeps of our own)."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.01)
    assert condition(), "condition not met"


async def saved(pilot: Pilot[int], app: MonitorApp) -> None:
    """Lets the app run until every save it queued has reached the file (saves run off the loop)."""
    await wait_for(pilot, lambda: app.saver.idle)


# Accessors re-read state after an await; inline attribute reads would stay narrowed for mypy.
def banner(app: MonitorApp) -> str | None:
    return app.banner.message


def screen(app: MonitorApp) -> Screen[object]:
    return app.screen


def paused(app: MonitorApp) -> bool:
    return app.model.paused


class RenderCounts:
    """How often each panel rebuilt its chart and its title line, counted by wrapping the builders."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from monitor.ui.widgets import CandlePanel

        self._charts: Counter[int] = Counter()
        self._headers: Counter[int] = Counter()
        build_chart, build_header = CandlePanel._build_chart, CandlePanel._build_header

        def counted_chart(panel: CandlePanel, *args: Any) -> Any:
            self._charts[id(panel)] += 1
            return build_chart(panel, *args)

        def counted_header(panel: CandlePanel, *args: Any) -> Any:
            self._headers[id(panel)] += 1
            return build_header(panel, *args)

        monkeypatch.setattr(CandlePanel, "_build_chart", counted_chart)
        monkeypatch.setattr(CandlePanel, "_build_header", counted_header)

    def chart(self, panel: object) -> int:
        return self._charts[id(panel)]

    def header(self, panel: object) -> int:
        return self._headers[id(panel)]

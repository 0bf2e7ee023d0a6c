"""Shared fixtures: a fast simulator on 127.0.0.1 and feeds wired to it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

# tests/ is not a package: put the repo root on the path so `tests.feed.feedkit` imports the
# same way under `pytest` and `python -m pytest`.
sys.path.insert(0, str(Path(__file__).parents[2]))

from monitor.clock import ScaledClock
from monitor.feed.supervisor import Feed
from monitor.market import WatchKey
from tests.feed.feedkit import SPEED, WATCH, Running, feed_config, sim_config


@pytest.fixture
def clock() -> ScaledClock:
    return ScaledClock(speed=SPEED)


@pytest.fixture
async def sim(clock: ScaledClock) -> AsyncIterator[Any]:
    from monitor.sim import SimServer

    server = SimServer(sim_config(), clock=clock)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def start_feed(sim: Any, clock: ScaledClock) -> AsyncIterator[Callable[..., Running]]:
    running: list[Running] = []

    def start(watch: tuple[WatchKey, ...] = WATCH, **overrides: Any) -> Running:
        feed = Feed(config=feed_config(sim, **overrides), clock=clock)
        feed.watch(watch)
        run = Running(feed)
        running.append(run)
        return run

    yield start
    for run in running:
        await run.stop()

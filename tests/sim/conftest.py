"""Fixtures for simulator tests: a simulator on a ManualClock and stub clients."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from monitor.feed.testing import ManualClock
from monitor.sim import SimConfig, SimServer

from .helpers import START, Client


@pytest.fixture
def manual_clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def manual_sim(manual_clock: ManualClock) -> AsyncIterator[SimServer]:
    async with SimServer(SimConfig(), clock=manual_clock) as server:
        yield server


@pytest.fixture
async def client(sim: SimServer) -> AsyncIterator[Client]:
    c = Client(sim)
    yield c
    await c.close()


@pytest.fixture
async def manual_client(manual_sim: SimServer) -> AsyncIterator[Client]:
    c = Client(manual_sim)
    yield c
    await c.close()

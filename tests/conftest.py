"""Shared fixtures: a running simulator on a loopback port with fast time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from monitor.clock import ScaledClock
from monitor.sim import SimConfig, SimServer


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    """A simulator where time runs 600x (a minute candle closes every 100 ms of wall time)."""
    async with SimServer(SimConfig(), clock=ScaledClock(speed=600)) as server:
        yield server

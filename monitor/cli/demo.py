"""The demo mode: the one place that starts the embedded simulator and the feed config for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import structlog

from monitor.cli.common import bounded
from monitor.clock import Clock, ScaledClock
from monitor.feed import FeedConfig
from monitor.settings import Settings, SettingsError

if TYPE_CHECKING:
    from monitor.sim import SimServer

log = structlog.get_logger("monitor.cli")


async def start_simulator(settings: Settings, clock: Clock | None = None) -> tuple[SimServer, FeedConfig]:
    """Starts the simulator on a loopback port; returns it with the DEMO feed config that reaches it.

    It runs on `clock` (the feed's): real time, or N times faster with --sim-speed N.
    """
    # Imported here: the simulator (and grpc) is loaded only when a command runs in demo mode.
    from monitor.sim import SimConfig, SimServer

    speed = clock.speed if isinstance(clock, ScaledClock) else 1.0
    sim = SimServer(SimConfig(host="127.0.0.1", port=0, speed=speed), clock=clock)
    await sim.start()
    log.info("demo_simulator_started", address=sim.address)
    # mode DEMO: plaintext, which the loopback address allows.
    return sim, FeedConfig.from_settings(settings, endpoint=sim.address, token=sim.token, mode="DEMO")


@asynccontextmanager
async def feed_config(settings: Settings, clock: Clock | None = None) -> AsyncIterator[FeedConfig]:
    """The settings' feed config; with no token, the embedded simulator's, stopped on exit.

    A DEMO config (`config.mode == "DEMO"`) names the simulator's address as its endpoint.

    Raises:
        SettingsError: an endpoint or the sandbox was asked for without a token (never DEMO then).
    """
    if (missing := settings.missing_token()) is not None:
        raise SettingsError(missing)
    if not settings.demo:
        yield FeedConfig.from_settings(settings)
        return
    sim, config = await start_simulator(settings, clock)
    try:
        yield config
    finally:
        await bounded(sim.stop(), "demo_simulator_stop_timeout")

"""What every part of a running simulator shares."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.clock import Clock
from monitor.sim.catalogue import Catalogue
from monitor.sim.config import SimConfig
from monitor.sim.faults import Faults, Stats
from monitor.sim.market import Market


@dataclass
class SimState:
    """The config, the clock, the market and the fault switches of one simulator."""

    config: SimConfig
    clock: Clock
    catalogue: Catalogue
    market: Market
    faults: Faults
    stats: Stats

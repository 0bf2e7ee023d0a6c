"""The built-in market simulator: a grpc.aio server speaking our T-Invest contract subset."""

from monitor.sim.config import SimConfig
from monitor.sim.faults import Faults, Stats
from monitor.sim.kinds import HostileKind, StreamEnd
from monitor.sim.server import SimServer

__all__ = ["Faults", "HostileKind", "SimConfig", "SimServer", "Stats", "StreamEnd"]

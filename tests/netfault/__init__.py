"""A TCP fault layer for the tests: a loopback proxy with latency, throttling, blackhole, RST, refuse."""

from tests.netfault.proxy import FaultProxy

__all__ = ["FaultProxy"]

"""monitor: a terminal live market monitor for the T-Invest gRPC API."""

__version__ = "0.1.0"

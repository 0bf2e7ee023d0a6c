"""monitor: a terminal live market monitor for the T-Invest gRPC API."""

import os

# The one place this is set: every module of the package imports this one first, and it must run
# before grpc is imported, or gRPC's C core writes its log lines over the terminal UI.
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

__version__ = "0.1.0"

"""A child process that opens a store as a user who cannot write its directory, and prints why it
could not: python -m tests.store.readonly_child PATH (run as root, it first becomes `nobody`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import structlog

from monitor.store import CandleStore
from tests.store.test_safety import KEY
from tests.store.writer_child import batch

NOBODY = 65534


def main() -> None:
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    if os.geteuid() == 0:  # root may write anywhere: a read-only directory needs another user
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    store = CandleStore.open(Path(sys.argv[1]))
    store.save(KEY, batch(1))  # dropped: nothing may reach the file
    store.close()
    print(store.unavailable, flush=True)


if __name__ == "__main__":
    main()

"""A child process that writes batches to a store and reports each committed one on stdout.

python -m tests.store.writer_child PATH UID BATCHES [MAX_FILE_BYTES]   (BATCHES 0: until killed or
failed; MAX_FILE_BYTES: no file of the process grows past it, as if the disk were full)
"""

from __future__ import annotations

import resource
import signal
import sys
from pathlib import Path

import structlog

from monitor.market import Candle, Interval, Origin, SeriesKey
from monitor.store import CandleStore

BATCH = 200
"""Candles per batch: batch n holds minutes n*BATCH .. n*BATCH + BATCH - 1."""


def batch(n: int) -> list[Candle]:
    return [
        Candle(60 * (n * BATCH + i), 10.0, 10.5, 9.5, 10.25, n * BATCH + i, True, Origin.STREAM)
        for i in range(BATCH)
    ]


def main() -> None:
    # stdout carries the report; structlog's default logger would print there too.
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    path, uid, batches = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    if len(sys.argv) > 4:
        # A write past the limit comes back short (then EFBIG) instead of killing the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limit = int(sys.argv[4])
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    store = CandleStore.open(path)
    key = SeriesKey(uid, Interval.M1)
    n = 0
    while batches == 0 or n < batches:
        store.save(key, batch(n), (60 * n * BATCH, 60 * (n + 1) * BATCH))
        store.flush()  # a failed write shows in `unavailable`, checked after it
        if store.unavailable is not None:
            print(f"unavailable {store.unavailable}", flush=True)
            return
        print(f"committed {n}", flush=True)
        n += 1
    store.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()

"""Store budget: write cost per candle on the writer thread, the ingest ratio with a store attached, size."""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import tempfile
import time
from pathlib import Path

from monitor.market import Candle, Interval, Origin, SeriesKey
from monitor.store import CandleStore
from monitor.store.codec import candle_row
from monitor.store.maintenance import file_size
from monitor.store.schema import MIGRATIONS
from tests.perf.bench_ingest import WARMUP_SHARE, Run, feed_run, raw_run
from tests.perf.harness import Result, median
from tests.perf.procs import child_main, children, quiet_logs, results_in_child, split_cpus, start_sim

SERIES = 100
MIB = 1024 * 1024


def _candles(total: int) -> list[tuple[SeriesKey, Candle]]:
    """`total` closed minute candles over SERIES series, prices moving like a market's."""
    keys = [SeriesKey(f"uid-{n:03d}", Interval.M1) for n in range(SERIES)]
    out = []
    for i in range(total):
        price = 100.0 + (i * 7919 % 5000) / 100
        out.append(
            (
                keys[i % SERIES],
                Candle(1_700_000_000 + 60 * (i // SERIES), price, price + 0.5, price - 0.25, price + 0.1,
                       1 + i % 997, True, Origin.STREAM),
            )
        )  # fmt: skip
    return out


def _raw_floor(path: Path, items: list[tuple[SeriesKey, Candle]]) -> float:
    """CPU seconds to convert and insert the same rows with one executemany in one transaction."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    ids = {key: n for n, key in enumerate(sorted({key for key, _ in items}, key=lambda k: k.uid))}
    started = time.thread_time()  # CPU, like the writer's figure
    rows = [(ids[key], *candle_row(candle)) for key, candle in items]
    conn.execute("BEGIN")
    conn.executemany("INSERT OR REPLACE INTO candles VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    elapsed = time.thread_time() - started
    conn.close()
    return elapsed


def _write_cost(folder: Path, total: int) -> dict[str, float]:
    items = _candles(total)
    store = CandleStore.open(folder / "store.sqlite3")
    writer = store.writer
    assert writer is not None
    # The caller's own cost: bursts of saves queued while another connection holds the write lock,
    # so the writer waits in SQLite's busy handler (GIL released) and takes nothing from this thread.
    # Short bursts, drained between: a queue grown to 100,000 jobs would time the GC, not the save.
    head = items[: len(items) // 10]
    bursts: list[float] = []
    for at in range(0, len(head), 1000):
        blocker = sqlite3.connect(folder / "store.sqlite3", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        burst = head[at : at + 1000]
        own_started = time.perf_counter()
        for key, candle in burst:
            store.save(key, (candle,))
        bursts.append((time.perf_counter() - own_started) / len(burst))
        blocker.execute("COMMIT")
        blocker.close()
        store.flush()
    own = median(bursts)
    items = items[len(head) :]
    started = time.perf_counter()
    for key, candle in items:  # one save per candle, as the feed's candle listener makes them
        store.save(key, (candle,))
    enqueued = time.perf_counter() - started
    store.flush()
    wall = time.perf_counter() - started
    busy, written, batches = writer.busy_seconds, writer.candles_written, writer.batches
    store.close()  # the last connection checkpoints the WAL into the file
    size = file_size(folder / "store.sqlite3")
    probe: queue.SimpleQueue[object] = queue.SimpleQueue()
    put_started = time.perf_counter()
    for item in items:
        probe.put(item)
    put = time.perf_counter() - put_started
    floor = _raw_floor(folder / "floor.sqlite3", items)
    total = len(items)
    return {
        "save_own_us": own * 1e6,
        "writer_cpu_us": busy / written * 1e6,
        "writer_wall_us": wall / len(items) * 1e6,
        "raw_executemany_us": floor / total * 1e6,
        "save_us": enqueued / total * 1e6,
        "queue_put_us": put / total * 1e6,
        "candles_per_batch": written / max(1, batches),
        "bytes_per_candle": size / written,
        "written": float(written),
    }


async def _ingest(address: str, total: int, rounds: int, folder: Path) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = {"raw": [], "feed": [], "store": [], "store_all": []}
    await raw_run(address, min(total, 5_000), decode=True)  # warm-up
    for n in range(rounds):
        runs["raw"].append(await raw_run(address, total, decode=True))
        runs["feed"].append(await feed_run(address, total))
        # As the feed attaches it: every update offered, the closed ones kept.
        runs["store"].append(await _with_store(address, total, folder / f"ingest-{n}.sqlite3", every=False))
        # The worst case: every update stored, as if each one closed a candle.
        runs["store_all"].append(await _with_store(address, total, folder / f"worst-{n}.sqlite3", every=True))
    return runs


async def _with_store(address: str, total: int, path: Path, *, every: bool) -> Run:
    store = CandleStore.open(path)

    def offer(key: SeriesKey, candle: Candle) -> None:
        store.save(key, (candle._replace(closed=True) if every else candle,))

    try:
        return await feed_run(address, total, offer)
    finally:
        store.close()
        if not every:
            _STORED.append(_count(path))


_STORED: list[int] = []
"""Candles the as-attached runs stored: how many of the streamed updates were closed ones."""


def _count(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM candles").fetchone()[0])
    finally:
        conn.close()


def _ratio(runs: dict[str, list[Run]], name: str) -> float:
    return median([f.rate / r.rate for f, r in zip(runs[name], runs["raw"], strict=True)])


def run(quick: bool) -> list[Result]:
    return results_in_child("tests.perf.bench_store", quick, 900)


def measure(quick: bool) -> list[Result]:
    quiet_logs()
    written, total, rounds = (200_000, 30_000, 3) if quick else (1_000_000, 100_000, 5)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cost = _write_cost(folder, written)
        split = split_cpus()
        if split is not None:
            os.sched_setaffinity(0, split[1])
        with children() as started:
            _, port = start_sim(started, firehose=total, lifetime=900, cpus=split[0] if split else None)
            runs = asyncio.run(_ingest(f"127.0.0.1:{port}", total, rounds, folder))
    feed, with_store, worst = _ratio(runs, "feed"), _ratio(runs, "store"), _ratio(runs, "store_all")
    per_million = cost["bytes_per_candle"] * 1e6 / MIB
    cpu_vs_floor = cost["writer_cpu_us"] / cost["raw_executemany_us"]
    ingest: dict[str, float | str] = {
        "feed_ratio": feed,
        "store_ratio": with_store,
        "store_all_ratio": worst,
        "worst_vs_feed": worst / feed,
        "stored_per_run": median([float(n) for n in _STORED]),
        "messages": float(total),
        "untimed_first": float(int(total * WARMUP_SHARE)),
        "rounds": float(rounds),
        "cpus": "sim {} / client {}".format(*map(sorted, split)) if split else "shared (1 CPU)",
    }
    return [
        Result("store: writer CPU per candle", cost["writer_cpu_us"], "us", "<= 2 x executemany",
               cpu_vs_floor <= 2.0, {**cost, "vs_executemany": cpu_vs_floor}),
        Result("store: save() on the loop", cost["save_own_us"], "us", "<= 20 x queue.put",
               cost["save_own_us"] <= 20 * cost["queue_put_us"],
               {"queue_put_us": cost["queue_put_us"], "save_while_writing_us": cost["save_us"]}),
        Result("store: ingest ratio with store", with_store / feed, "x feed", ">= 0.90",
               with_store / feed >= 0.90, ingest),
        Result("store: size per million candles", per_million, "MiB", "<= 64 MiB", per_million <= 64,
               {"bytes_per_candle": cost["bytes_per_candle"], "candles": cost["written"]}),
    ]  # fmt: skip


if __name__ == "__main__":
    child_main(measure)

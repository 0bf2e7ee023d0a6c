"""Memory budget: RSS growth of the feed between 100 k and 1 M candle updates over 100 instruments."""

from __future__ import annotations

import argparse
import gc
import json
import time
import uuid
from decimal import Decimal

from tests.perf.harness import Result, median
from tests.perf.procs import Child, children

INSTRUMENTS = 100
BATCH_MINUTES = 100
"""Each batch is 100 minutes × 100 instruments = 10 k reused messages (mutated between batches)."""
START = 1_700_000_000 - 1_700_000_000 % 60
SAMPLES = (100_000, 1_000_000)


def measure(total: int) -> dict[str, float]:
    """Drives the receiver's candle path (what a session calls per streamed candle) with `total`
    updates; RSS at each SAMPLES point, the update rate."""
    import psutil

    from monitor.feed import FeedConfig
    from monitor.feed.supervisor import Feed
    from monitor.market import Instrument, Interval, SeriesKey, WatchKey
    from monitor.pb import marketdata_pb2 as md
    from tests.perf.procs import quiet_logs

    quiet_logs()
    feed = Feed(config=FeedConfig(endpoint="127.0.0.1:1", plaintext=True))
    uids = [str(uuid.uuid5(uuid.NAMESPACE_OID, f"perf-{n}")) for n in range(INSTRUMENTS)]
    for n, uid in enumerate(uids):
        # Resolved by hand: the receiver only needs the watched series, not a connection.
        feed._subscriptions._resolved[uid] = Instrument(
            uid, f"FIGI{n:08d}", f"T{n}", "TQBR", f"Perf {n}", 1, Decimal("0.01")
        )
    feed.watch([WatchKey(uid, Interval.M1) for uid in uids])
    assert len(feed._subscriptions.series_keys()) == INSTRUMENTS
    batch = [
        md.MarketDataResponse(
            candle=md.Candle(
                figi=f"FIGI{n % INSTRUMENTS:08d}",
                interval=md.SUBSCRIPTION_INTERVAL_ONE_MINUTE,
                instrument_uid=uids[n % INSTRUMENTS],
            )
        )
        for n in range(INSTRUMENTS * BATCH_MINUTES)
    ]
    process = psutil.Process()
    on_candle = feed._receiver.on_candle
    out: dict[str, float] = {}
    done, busy = 0, 0.0
    while done < total:
        # Every update opens a new minute (the newest forming, the one before closed): the worst case
        # for growth; 100 series × the book's 1,000-candle cap are full exactly at 100 k updates.
        base_minute = done // INSTRUMENTS
        for n, response in enumerate(batch):
            candle = response.candle
            minute = base_minute + n // INSTRUMENTS
            candle.time.seconds = START + 60 * minute
            price = 100 + (minute * 7 + n) % 50
            candle.open.units, candle.high.units = price, price + 1
            candle.low.units, candle.close.units = price - 1, price
            candle.volume = 1 + minute % 1000
        now = START + 60 * (base_minute + BATCH_MINUTES - 1) + 30.0
        start = time.perf_counter()
        for response in batch:
            on_candle(response.candle, now)
        busy += time.perf_counter() - start
        done += len(batch)
        if done in SAMPLES:
            gc.collect()
            out[f"rss_{done}"] = process.memory_info().rss
            series = [feed.book.find(SeriesKey(uid, Interval.M1)) for uid in uids]
            out[f"candles_{done}"] = float(sum(len(s) for s in series if s is not None))
    out["on_data_per_s"] = done / busy
    out["messages"] = float(done)
    return out


def run(quick: bool) -> list[Result]:
    # The 1 M updates are the budget's own points; quick mode only repeats fewer times.
    repeats = 1 if quick else 3
    figures: list[dict[str, float]] = []
    with children() as started:
        for _ in range(repeats):
            # A fresh process per run: RSS must not carry what other benchmarks imported or allocated.
            child = Child(["-m", "tests.perf.bench_memory", "--child", str(SAMPLES[-1])])
            started.append(child)
            figures.append(json.loads(child.expect("RESULT", 300)))
            child.stop()
    low, high = (f"rss_{n}" for n in SAMPLES)
    growths = [f[high] / f[low] - 1 for f in figures]
    growth = median(growths) * 100
    last = figures[-1]
    return [
        Result(
            "memory: RSS growth 100k → 1M updates",
            growth,
            "%",
            "<= 10 %",
            growth <= 10.0,
            {
                "rss_100k_mb": median([f[low] for f in figures]) / 2**20,
                "rss_1m_mb": median([f[high] for f in figures]) / 2**20,
                "candles_100k": last[f"candles_{SAMPLES[0]}"],
                "candles_1m": last[f"candles_{SAMPLES[1]}"],
                "runs": float(repeats),
            },
        ),
        Result(
            "memory: Feed.on_data rate (info)",
            median([f["on_data_per_s"] for f in figures]),
            "upd/s",
            "none (info)",
            True,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", type=int, required=True, help="updates to drive (child mode)")
    args = parser.parse_args()
    print("RESULT " + json.dumps(measure(args.child)), flush=True)


if __name__ == "__main__":
    main()

"""Ingest budget: the Feed's receive → decode → CandleBook → health rate against raw grpc.aio reads."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import grpc.aio

from monitor.feed import FeedConfig
from monitor.feed.convert import checked_candle
from monitor.feed.supervisor import Feed
from monitor.market import Candle, Interval, Origin, SeriesKey, WatchKey
from monitor.pb import marketdata_pb2 as md
from monitor.pb import marketdata_pb2_grpc
from monitor.sim.catalogue import Catalogue
from tests.perf.harness import Result, median
from tests.perf.procs import (
    SIM_TOKEN,
    child_main,
    children,
    quiet_logs,
    results_in_child,
    split_cpus,
    start_sim,
)
from tests.perf.simproc import STREAM_METHOD, STREAM_SERVICE

T = TypeVar("T")
TIMEOUT_S = 60.0
WARMUP_SHARE = 0.1
"""The share of each run's messages that is not timed (see Meter)."""


@dataclass
class Run:
    """One consumer reading the whole firehose: messages counted, wall and CPU seconds between the
    first and the last of them."""

    messages: int
    wall: float
    cpu: float
    wall_from_first: float = 0.0
    """Wall seconds from the very first message (start-up included) to the last."""

    @property
    def rate(self) -> float:
        return (self.messages - 1) / self.wall

    @property
    def cpu_per_message(self) -> float:
        return self.cpu / (self.messages - 1)


class Meter:
    """Clocks the `start`-th and the `total`-th message; nothing in between (the hot path stays bare).

    The first messages are not timed: "sustains" is the steady state, and the feed's start-up
    (instrument look-ups, the first backfill, the session opens) overlaps them. The start-up
    benchmark times that part.
    """

    def __init__(self, total: int, start: int = 1) -> None:
        self.total = total
        self.start = max(1, start)
        self.count = 0
        self.very_first = 0.0
        self.first = (0.0, 0.0)
        self.done = asyncio.Event()
        self.run: Run | None = None

    def tick(self) -> None:
        self.count += 1
        if self.count == 1:
            self.very_first = time.perf_counter()
        if self.count == self.start:
            self.first = (time.perf_counter(), time.process_time())
        elif self.count == self.total:
            end = time.perf_counter()
            wall, cpu = end - self.first[0], time.process_time() - self.first[1]
            self.run = Run(self.count - self.start + 1, wall, cpu, end - self.very_first)
            self.done.set()


def _subscribe_request() -> md.MarketDataRequest:
    uids = [item.uid for item in Catalogue().items]
    return md.MarketDataRequest(
        subscribe_candles_request=md.SubscribeCandlesRequest(
            subscription_action=md.SUBSCRIPTION_ACTION_SUBSCRIBE,
            instruments=[
                md.CandleInstrument(instrument_id=uid, interval=md.SUBSCRIPTION_INTERVAL_ONE_MINUTE)
                for uid in uids
            ],
        )
    )


async def _requests(stop: asyncio.Event) -> AsyncIterator[md.MarketDataRequest]:
    yield _subscribe_request()
    await stop.wait()  # half-closing early is fine for the server, but keep it like a real client


async def raw_run(address: str, total: int, *, decode: bool, convert: bool = False) -> Run:
    """(a) A bare grpc.aio reader: `async for` over the call, protobuf-decoded (or raw bytes when
    `decode` is False, the transport's ceiling).

    With `convert`, the reader also turns each candle into a checked book value and keeps the newest
    per instrument: the least any pipeline that stores candles must do, so the gap between it and
    the feed is the feed's own bookkeeping (routes, book, health, listeners).
    """
    meter = Meter(total, start=int(total * WARMUP_SHARE))
    stop = asyncio.Event()
    metadata = (("authorization", f"Bearer {SIM_TOKEN}"),)
    newest: dict[str, Candle | str] = {}
    async with grpc.aio.insecure_channel(address) as channel:
        call: Any
        if decode:
            stub = marketdata_pb2_grpc.MarketDataStreamServiceStub(channel)
            call = stub.MarketDataStream(_requests(stop), metadata=metadata)
        else:
            method: Any = channel.stream_stream(
                f"/{STREAM_SERVICE}/{STREAM_METHOD}",
                request_serializer=md.MarketDataRequest.SerializeToString,
                response_deserializer=None,
            )
            call = method(_requests(stop), metadata=metadata)

        async def consume() -> None:
            async for response in call:
                # The same check a real reader makes before it counts a candle.
                if not decode or response.WhichOneof("payload") == "candle":
                    if convert:
                        candle = response.candle
                        newest[candle.instrument_uid] = checked_candle(candle, 0, time.time())
                    meter.tick()
                    if meter.run is not None:
                        return

        try:
            await asyncio.wait_for(consume(), TIMEOUT_S)
        finally:
            stop.set()
            call.cancel()
    if meter.run is None:
        raise RuntimeError(f"raw reader got {meter.count} of {total} messages")
    return meter.run


async def feed_run(address: str, total: int, also: Callable[[SeriesKey, Candle], None] | None = None) -> Run:
    """(b) The real Feed: subscription handshake, receive loop, decode, book upsert, health.

    `also` is a second candle listener (bench_store attaches the store's save with it)."""
    meter = Meter(total, start=int(total * WARMUP_SHARE))
    config = FeedConfig(
        endpoint=address,
        token=SIM_TOKEN,
        plaintext=True,
        mode="DEMO",
        history_candles=1,
        reconcile_interval_s=3600.0,
        stale_after_s=600.0,
    )
    feed = Feed(config=config)

    stream = Origin.STREAM  # hoisted: an Enum member lookup costs more than the rest of this listener

    def on_candle(key: SeriesKey, candle: Candle) -> None:
        if candle.origin is stream:  # the backfill's candle is not part of the stream
            meter.tick()

    feed.add_candle_listener(on_candle)
    if also is not None:
        feed.add_candle_listener(also)
    feed.watch([WatchKey(item.uid, Interval.M1) for item in Catalogue().items])
    task = asyncio.create_task(feed.run())
    try:
        await asyncio.wait_for(meter.done.wait(), TIMEOUT_S)
    except TimeoutError:
        raise RuntimeError(
            f"feed got {meter.count} of {total} candles (state {feed.health.state.value})"
        ) from None
    finally:
        await feed.close()
        await asyncio.gather(task, return_exceptions=True)
    assert meter.run is not None
    return meter.run


async def _measure(address: str, total: int, rounds: int) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = {"raw": [], "feed": [], "bytes": [], "floor": []}
    # Warm-up: the first call pays channel set-up and imports on both sides.
    await raw_run(address, min(total, 5_000), decode=True)
    for _ in range(rounds):
        # Alternating, so a burst of load from elsewhere hits both sides alike.
        runs["raw"].append(await raw_run(address, total, decode=True))
        runs["feed"].append(await feed_run(address, total))
        runs["bytes"].append(await raw_run(address, total, decode=False))
        runs["floor"].append(await raw_run(address, total, decode=True, convert=True))
    return runs


def against_firehose(
    total: int, measure: Callable[[str], Coroutine[Any, Any, T]]
) -> tuple[T, tuple[set[int], set[int]] | None]:
    """`measure(address)` run against a simulator child streaming a firehose of `total` candles,
    and the CPUs (simulator, this process) each side had to itself, None when they shared one."""
    quiet_logs()
    split = split_cpus()
    if split is not None:
        # Before grpc starts its threads: they inherit the affinity of the thread that makes them.
        os.sched_setaffinity(0, split[1])
    with children() as started:
        _, port = start_sim(started, firehose=total, lifetime=900, cpus=split[0] if split else None)
        return asyncio.run(measure(f"127.0.0.1:{port}")), split


def run(quick: bool) -> list[Result]:
    return results_in_child("tests.perf.bench_ingest", quick, 900)


def measure(quick: bool) -> list[Result]:
    total, rounds = (30_000, 3) if quick else (100_000, 5)
    runs, split = against_firehose(total, lambda address: _measure(address, total, rounds))
    raw_rate = median([r.rate for r in runs["raw"]])
    feed_rate = median([r.rate for r in runs["feed"]])
    ceiling = median([r.rate for r in runs["bytes"]])
    ratio = median([f.rate / r.rate for f, r in zip(runs["feed"], runs["raw"], strict=True)])
    floor = median([f.rate / r.rate for f, r in zip(runs["floor"], runs["raw"], strict=True)])
    detail: dict[str, float | str] = {
        "feed_msg_s": feed_rate,
        "raw_msg_s": raw_rate,
        "bytes_msg_s": ceiling,
        # A reader that only converts and keeps each candle: what is left of the budget is the feed's.
        "convert_only_ratio": floor,
        "feed_cpu_us_msg": median([r.cpu_per_message for r in runs["feed"]]) * 1e6,
        "raw_cpu_us_msg": median([r.cpu_per_message for r in runs["raw"]]) * 1e6,
        # Machine-independent view: the share of a message's CPU that is gRPC's own receive + decode.
        "cpu_ratio": median(
            [r.cpu_per_message / f.cpu_per_message for f, r in zip(runs["feed"], runs["raw"], strict=True)]
        ),
        "messages": float(total),
        "untimed_first": float(int(total * WARMUP_SHARE)),
        # The same runs timed from their first message: the feed's start-up work included.
        "ratio_from_first_msg": median(
            [
                (f.wall_from_first and r.wall_from_first / f.wall_from_first)
                for f, r in zip(runs["feed"], runs["raw"], strict=True)
            ]
        ),
        "cpus": "sim {} / client {}".format(*map(sorted, split)) if split else "shared (1 CPU)",
        "rounds": float(rounds),
    }
    return [
        Result("ingest: feed / raw grpc.aio rate", ratio, "ratio", ">= 0.90", ratio >= 0.90, detail),
        Result("ingest: feed rate", feed_rate, "msg/s", ">= 3,000 msg/s", feed_rate >= 3_000),
    ]


if __name__ == "__main__":
    child_main(measure)

"""The simulator as a benchmark child process: optional send stamps, a candle firehose, and fault
switches driven from the parent (`--control`: JSON-lines commands on stdin, see `control`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, ClassVar

os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

import grpc
import grpc.aio

from monitor.market import Interval
from monitor.pb import instruments_pb2_grpc, marketdata_pb2, marketdata_pb2_grpc
from monitor.sim import SimConfig, SimServer, StreamEnd
from monitor.sim.catalogue import CATALOGUE
from monitor.sim.stream import StreamSession
from monitor.sim.stream_service import StreamService
from monitor.sim.unary import InstrumentsService, MarketDataService
from monitor.wire import to_quotation
from tests.perf.procs import SIM_TOKEN, PerfClock, quiet_logs

STREAM_METHOD = "MarketDataStream"
STREAM_SERVICE = "tinkoff.public.invest.api.contract.v1.MarketDataStreamService"
PERIOD_EVERY = 20
"""Firehose messages per instrument before its period advances (the live sim sends ~200)."""


def stamp_sends() -> None:
    """Overwrites `last_trade_ts` of every streamed candle with the sim time it is handed to gRPC.

    Sim time, not wall time: the feed reads `last_trade_ts` for its lag estimate, on the sim's
    clock (a wall stamp at speed 8 would read as a lag growing 7 s a second). The client turns it
    back into wall time (`PerfClock.wall`) to read it as the send time.
    """
    original = StreamService._drain

    async def drain(self: StreamService, session: StreamSession, context: Any) -> AsyncIterator[Any]:
        async for item in original(self, session, context):
            if item.HasField("candle"):
                item.candle.last_trade_ts.FromNanoseconds(round(self.state.clock.now() * 1e9))
            yield item

    StreamService._drain = drain  # type: ignore[method-assign]


def firehose_blobs(sim: SimServer, count: int) -> list[bytes]:
    """`count` serialized MarketDataResponse candles, round-robin over the catalogue on 1m.

    Prices come from the sim's own history; every message changes its series (volume grows, and
    the period moves on every PERIOD_EVERY messages). The periods start two hours ahead: a full run
    takes minutes, and a period that the feed's backfill has meanwhile filled with the market's real
    (larger) volume would make the firehose's updates for it stale, and rightly ignored.
    """
    items = sim.state.catalogue.items[: len(CATALOGUE)]  # the hand-written ones, as bench_ingest subscribes
    now = int(sim.clock.now())
    minute = Interval.M1.start_of(now)
    start = minute + 2 * 3600
    bases = []
    for item in items:
        history = sim.history(item.uid, Interval.M1, minute - 300 * 60, minute)
        bases.append(history or [])
    blobs: list[bytes] = []
    for n in range(count):
        k, i = divmod(n, len(items))
        inst = items[i].instrument
        base = bases[i][(k // PERIOD_EVERY) % len(bases[i])] if bases[i] else None
        close = (base.close if base else 100.0) + (k % PERIOD_EVERY) * float(inst.price_step)
        candle = marketdata_pb2.Candle(
            figi=inst.figi,
            interval=marketdata_pb2.SUBSCRIPTION_INTERVAL_ONE_MINUTE,
            open=to_quotation(base.open if base else 100.0),
            high=to_quotation(max(close, base.high if base else close)),
            low=to_quotation(min(close, base.low if base else close)),
            close=to_quotation(close),
            volume=1 + k % PERIOD_EVERY + (base.volume if base else 0),
            instrument_uid=inst.uid,
            ticker=inst.ticker,
            class_code=inst.class_code,
        )
        candle.time.seconds = start + 60 * (k // PERIOD_EVERY)
        blobs.append(marketdata_pb2.MarketDataResponse(candle=candle).SerializeToString())
    return blobs


class FirehoseSim(SimServer):
    """The real simulator's unary services; its stream answers subscriptions like the sim, then sends
    the pre-serialized firehose as fast as gRPC takes it (bytes, identity serializer)."""

    blobs: ClassVar[list[bytes]] = []

    async def _serve(self) -> None:
        server = grpc.aio.server()
        marketdata_pb2_grpc.add_MarketDataServiceServicer_to_server(
            MarketDataService(self.state, self._gate), server
        )
        instruments_pb2_grpc.add_InstrumentsServiceServicer_to_server(
            InstrumentsService(self.state, self._gate), server
        )
        handler: grpc.RpcMethodHandler[Any, Any] = grpc.stream_stream_rpc_method_handler(
            self._firehose,
            request_deserializer=marketdata_pb2.MarketDataRequest.FromString,
            response_serializer=None,
        )
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(STREAM_SERVICE, {STREAM_METHOD: handler}),)
        )
        self.port = server.add_insecure_port(f"{self.config.host}:{self.port}")
        await server.start()
        self._server = server

    async def _firehose(
        self, requests: AsyncIterator[marketdata_pb2.MarketDataRequest], context: Any
    ) -> None:
        # Not registered with the tick loop: the only candles on this stream are the firehose's.
        session = StreamSession(self.state, uuid.uuid4().hex)

        async def read() -> None:
            with contextlib.suppress(Exception):
                async for request in requests:
                    session.handle(request)

        reader = asyncio.create_task(read())
        try:
            while not session.candles:
                item = await session.out.get()
                if item is not None:
                    await context.write(item.SerializeToString())
            for n, blob in enumerate(self.blobs):
                await context.write(blob)
                if n % 256 == 0:
                    await self._answer(session, context)
            while True:  # keep the stream open and answering until the client cancels
                item = await session.out.get()
                if item is not None:
                    await context.write(item.SerializeToString())
        finally:
            reader.cancel()

    @staticmethod
    async def _answer(session: StreamSession, context: Any) -> None:
        while not session.out.empty():
            item = session.out.get_nowait()
            if item is not None:
                await context.write(item.SerializeToString())


async def _execute(
    sim: SimServer, command: dict[str, Any], restored: set[asyncio.Task[None]]
) -> dict[str, Any]:
    """Runs one control command on the simulator's fault switches; returns the acknowledgement."""
    op = command.get("op")
    reply: dict[str, Any] = {"id": command.get("id"), "op": op}
    faults = sim.faults
    if op == "end_streams":
        reply["ended"] = faults.end_streams(StreamEnd[command["kind"]])
    elif op == "stall":
        faults.stall(bool(command["on"]))
    elif op == "refuse_streams":
        faults.refuse_streams(bool(command["on"]))
    elif op == "refuse_connections":
        ident = command.get("id")
        await faults.refuse_connections(float(command["seconds"]))

        async def announce() -> None:
            await faults.wait_restored()
            print("RESTORED " + json.dumps({"id": ident}), flush=True)

        task = asyncio.create_task(announce())
        restored.add(task)
        task.add_done_callback(restored.discard)
    elif op == "catalogue":
        reply["symbols"] = [inst.symbol for inst in sim.catalogue[: len(CATALOGUE)]]
    elif op == "stats":
        stats = sim.stats
        reply.update(unary_calls=stats.unary_calls, stream_calls=stats.stream_calls,
                     streams_opened=stats.streams_opened, subscribe_requests=stats.subscribe_requests,
                     lookups=sum(stats.lookups.values()))  # fmt: skip
    else:
        raise ValueError(f"unknown op {op!r}")
    return reply


async def control(sim: SimServer, stop: asyncio.Event) -> None:
    """Reads commands on stdin until EOF (then sets `stop`), one JSON object a line.

    `{"id": N, "op": OP, ...}` with OP one of: end_streams (kind: a StreamEnd name), stall (on),
    refuse_streams (on), refuse_connections (seconds, sim time), catalogue, stats. Each is answered by
    `ACK {"id": N, "op": OP, ...}` once done (`ended` for end_streams, `symbols` for catalogue, the
    call counters for stats,
    `error` when it failed); refuse_connections is acknowledged once the server has stopped, and
    `RESTORED {"id": N}` follows when it is back on its port.
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:  # stdin on a thread: a blocking read must not stall the server's loop
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=pump, daemon=True).start()
    restored: set[asyncio.Task[None]] = set()
    while (line := await lines.get()) is not None:
        if not line.strip():
            continue
        command: dict[str, Any] = {}
        try:
            command = json.loads(line)
            reply = await _execute(sim, command, restored)
        except Exception as exc:
            reply = {"id": command.get("id"), "op": command.get("op"), "error": repr(exc)}
        print("ACK " + json.dumps(reply), flush=True)
    stop.set()


async def serve(args: argparse.Namespace) -> None:
    quiet_logs()
    clock = PerfClock(args.speed, args.origin, args.offset)
    config = SimConfig(
        host="127.0.0.1",
        port=args.port,
        tokens=(args.token,),
        seed=args.seed,
        speed=args.speed,
        origin=args.origin,
        sessions=args.sessions,
    )
    if args.stamp:
        stamp_sends()
    sim: SimServer
    if args.firehose:
        sim = FirehoseSim(config, clock=clock)
        FirehoseSim.blobs = firehose_blobs(sim, args.firehose)
    else:
        sim = SimServer(config, clock=clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with sim:
        print(f"PORT {sim.port}", flush=True)
        controller = asyncio.create_task(control(sim, stop)) if args.control else None
        # A lifetime bound: the child ends by itself even if the parent died without killing it.
        parent = os.getppid()
        deadline = time.monotonic() + args.lifetime
        # Bounded: ends on SIGTERM, when its parent is gone (reparented), or after --lifetime.
        while not stop.is_set() and os.getppid() == parent and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        if controller is not None:
            controller.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--origin", type=float, default=0.0)
    parser.add_argument("--offset", type=float, default=0.0)
    parser.add_argument("--sessions", action="store_true")
    parser.add_argument("--seed", type=int, default=SimConfig().seed, help="the market's seed")
    parser.add_argument("--token", default=SIM_TOKEN, help="the one token the simulator accepts")
    parser.add_argument(
        "--control", action="store_true", help="read fault commands on stdin (JSON lines), ack on stdout"
    )
    parser.add_argument("--stamp", action="store_true", help="stamp send wall time into last_trade_ts")
    parser.add_argument("--firehose", type=int, default=0, help="serve this many candles per stream")
    parser.add_argument("--lifetime", type=float, default=600.0)
    parser.add_argument(
        "--cpus", default="", help="comma-separated CPUs to run on (before any thread starts)"
    )
    args = parser.parse_args()
    if args.cpus:
        os.sched_setaffinity(0, {int(cpu) for cpu in args.cpus.split(",")})
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()

"""`monitor sim`: run the simulator as a standalone server."""

from __future__ import annotations

import argparse
import asyncio
import math
import secrets
import shlex
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.cli.common import speed_arg
from monitor.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from monitor.settings import TOKEN_ENV

if TYPE_CHECKING:
    from monitor.sim import SimConfig, SimServer

_MODELS = """\
A T-Invest-compatible gRPC server (loopback by default) with a deterministic market (a function of
--seed, instrument and sim time), for demos and tests.

models:
  instruments   16 real MOEX instruments plus 1,000 generated from the seed: shares, bonds, ETFs,
                futures, currencies, each with uid, FIGI, ISIN, ticker, class code, lot, price
                step, currency, first-candle dates, API-tradable flag and trading status
  calls         GetInstrumentBy, ShareBy/BondBy/EtfBy/FutureBy/CurrencyBy, FindInstrument,
                Shares/Bonds/Etfs/Futures/Currencies (INSTRUMENT_STATUS_BASE / _ALL); GetCandles
                (per-interval windows and limit caps, nothing before the first-candle dates),
                GetLastPrices, GetTradingStatus(es); the bidi and server-side market-data streams
                with candles (forming, closed, waiting_close, late corrections), last prices,
                trading statuses, pings (5-180 s) and GetMySubscriptions
  limits        300 candle subscriptions a stream (LIMIT_IS_EXCEEDED), 100 subscription requests a
                minute a stream (TOO_MANY_REQUESTS), 16 streams a token (80001; a closed stream
                counts until the counter's refresh every 120 s), a per-minute unary window with
                x-ratelimit-* headers (80002), idle streams end (80004)
  errors        Bearer-token auth (40003), x-tracking-id, API codes in the status details with the
                text in the `message` trailer; TLS with --tls-cert/--tls-key; MOEX-like trading
                sessions with --sessions
not modelled:
  orders, accounts, portfolios, operations, users, the sandbox; order-book, trade and
  open-interest subscriptions; options, indices, assets and TradingSchedules; dealer (weekend)
  trading; per-kind trading hours (one schedule for all); real prices
"""

_EPILOG = """\
faults (--fault KIND[@PERIOD[:DURATION]], repeatable; times in sim seconds):
  every PERIOD seconds (default 60) inject KIND; timed kinds last DURATION (default 10).
  stream ends:  unavailable, internal, cancelled, stream-removed, clean, lifetime (80005)
  timed:        stall (silence, no pings), refuse-streams (80001),
                refuse-connections (server down, then back on the same port), delay (unary/stream
                start delayed by DURATION seconds once per PERIOD; lasts one PERIOD/2)
  hostile:      one message of every malformed/hostile kind on each open stream (unknown oneof
                member, candles with no time / no prices / bad quotations / high < low / far-off
                times / unsubscribed instruments, a ~9 MiB ping, last prices with bad quotations /
                far-ahead times / unsubscribed instruments, trading statuses outside the enum or of
                unsubscribed instruments); the stream stays open
  example: --fault unavailable@120 --fault stall@300:30
"""

_TIMED = ("stall", "refuse-streams", "refuse-connections", "delay")


@dataclass(frozen=True)
class FaultPlan:
    """One --fault flag."""

    kind: str
    period: float
    duration: float


def parse_fault(text: str) -> FaultPlan:
    """One --fault value, as argparse's `type`: KIND[@PERIOD[:DURATION]]."""
    from monitor.sim import StreamEnd  # only when a --fault is given: the sim loads grpc

    kind, _, timing = text.partition("@")
    kind = kind.strip().lower()
    if kind not in _TIMED and kind != "hostile" and kind not in {e.value for e in StreamEnd}:
        raise argparse.ArgumentTypeError(f"unknown fault {kind!r}")
    period_text, _, duration_text = timing.partition(":")
    try:
        period = float(period_text) if period_text else 60.0
        duration = float(duration_text) if duration_text else 10.0
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"bad fault timing in {text!r}") from error
    if not (math.isfinite(period) and math.isfinite(duration) and period > 0 and duration >= 0):
        raise argparse.ArgumentTypeError(f"fault times must be finite and positive in {text!r}")
    return FaultPlan(kind, period, duration)


def port_arg(text: str) -> int:
    """A --port value: 0 (any free port) or 1..65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is outside 0..65535")
    return value


def connect_command(address: str, token: str, tls_cert: str | None) -> str:
    """The shell command that points `monitor` at a simulator listening on `address`.

    With TLS, the simulator's certificate is named as the CA to trust (right for a self-signed one).
    """
    host, _, port = address.rpartition(":")
    # A simulator on every interface is reached on loopback; an IPv6 host needs brackets.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1"}.get(host, host)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    flags = f"--ca-file {shlex.quote(tls_cert)}" if tls_cert else "--plaintext"
    return f"{TOKEN_ENV}={token} monitor --endpoint {host}:{port} {flags}"


def add_parser(subparsers: Any) -> None:
    """Registers `sim` on the main CLI."""
    parser = subparsers.add_parser(
        "sim",
        help="run the built-in market simulator (a T-Invest-compatible gRPC server)",
        description=_MODELS,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=port_arg, default=0, help="port; 0 picks a free one (default 0)")
    parser.add_argument("--token", help="the accepted Bearer token (default: a generated one, printed)")
    parser.add_argument(
        "--speed", type=speed_arg, default=1.0, help="sim seconds per wall second (default 1)"
    )
    parser.add_argument("--seed", type=int, default=1, help="market seed (default 1)")
    parser.add_argument("--sessions", action="store_true", help="MOEX-like trading hours and statuses")
    parser.add_argument("--tls-cert", metavar="F", help="PEM certificate chain (with --tls-key)")
    parser.add_argument("--tls-key", metavar="F", help="PEM private key (with --tls-cert)")
    parser.add_argument("--fault", type=parse_fault, action="append", default=[], metavar="KIND[@SECONDS]")
    parser.add_argument("--replay", type=Path, metavar="FILE",
                        help="serve a `monitor record` file back, its timing scaled by --speed")  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Serves until SIGINT (exit 130, as Ctrl+C) or SIGTERM (0); 1 when the port cannot be bound."""
    if bool(args.tls_cert) != bool(args.tls_key):
        print("monitor sim: --tls-cert and --tls-key go together")
        return EXIT_USAGE
    # Imported here: `monitor --help` builds every command's parser and must not load grpc.
    from monitor.sim import SimConfig

    make = None
    if args.replay is not None:
        from monitor.cli.record import replay_server

        if args.tls_cert or (make := replay_server(args.replay, args.speed)) is None:
            print("monitor sim: a replay is served without TLS" * bool(args.tls_cert), file=sys.stderr)
            return EXIT_USAGE
    token = args.token or f"sim-{secrets.token_hex(8)}"
    config = SimConfig(
        host=args.host, port=args.port, tokens=(token,), seed=args.seed, speed=args.speed,
        sessions=args.sessions, tls_cert=args.tls_cert, tls_key=args.tls_key,
    )  # fmt: skip
    try:
        return asyncio.run(_serve(config, list(args.fault), make))
    except KeyboardInterrupt:  # before the signal handlers were in place
        return EXIT_INTERRUPTED


async def _serve(
    config: SimConfig, faults: list[FaultPlan], make: Callable[[SimConfig], SimServer] | None = None
) -> int:
    from monitor.sim import SimServer

    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[int] = loop.create_future()

    def stop(exit_code: int) -> None:
        if not stopped.done():
            stopped.set_result(exit_code)

    for sig, exit_code in ((signal.SIGINT, EXIT_INTERRUPTED), (signal.SIGTERM, EXIT_OK)):
        loop.add_signal_handler(sig, stop, exit_code)
    sim = SimServer(config) if make is None else make(config)
    try:
        await sim.start()
    except RuntimeError:  # grpc's "Failed to bind to address"
        await sim.stop()
        where = f"{config.host}:{config.port}"
        print(f"monitor sim: cannot listen on {where} (in use, or not an address here)", file=sys.stderr)
        return EXIT_FAILED
    try:
        print(f"monitor sim listening on {sim.address} token {sim.token}", flush=True)
        print(f"connect with: {connect_command(sim.address, sim.token, config.tls_cert)}", flush=True)
        tasks = [asyncio.create_task(_inject(sim, plan)) for plan in faults]
        code = await stopped
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await sim.stop()
    return code


async def _inject(sim: SimServer, plan: FaultPlan) -> None:
    """Injects one planned fault every `plan.period` sim seconds."""
    from monitor.sim import HostileKind, StreamEnd
    from monitor.sim.gate import wait_sim

    while True:
        await wait_sim(sim.clock, plan.period)
        if plan.kind == "stall":
            sim.faults.stall(True)
            await wait_sim(sim.clock, plan.duration)
            sim.faults.stall(False)
        elif plan.kind == "refuse-streams":
            sim.faults.refuse_streams(True)
            await wait_sim(sim.clock, plan.duration)
            sim.faults.refuse_streams(False)
        elif plan.kind == "refuse-connections":
            await sim.faults.refuse_connections(plan.duration)
            await sim.faults.wait_restored()
        elif plan.kind == "delay":
            sim.faults.delay(plan.duration)
            await wait_sim(sim.clock, plan.period / 2)
            sim.faults.delay(0)
        elif plan.kind == "hostile":
            for kind in HostileKind:
                sim.faults.hostile(kind)
        else:
            sim.faults.end_streams(StreamEnd(plan.kind))

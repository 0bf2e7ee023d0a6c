"""What every connecting command shares: its flags, the settings they give, the clock, closing, history."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import structlog

from monitor.clock import Clock, ScaledClock, SystemClock
from monitor.exits import CLOSE_TIMEOUT_S, EXIT_FAILED
from monitor.market import Instrument, Interval
from monitor.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from monitor.feed import FeedConfig, HistoryClient
    from monitor.feed.cache import CandleCache

T = TypeVar("T")

_CACHE = "_monitor_settings"
"""Attribute of the argparse namespace that caches settings_from_args."""
SIM_SPEED = "--sim-speed"
DAY_S = 86_400
MAX_SPEED = 100_000.0
"""Fastest simulated clock: a day per second is plenty, and larger values only overflow timers."""

log = structlog.get_logger("monitor.cli")


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the flags of every connecting command: --config, --endpoint, --token-file, --sim-speed…"""
    group = parser.add_argument_group("connection and files")
    group.add_argument("--config", type=Path, metavar="FILE", help="settings file (default: user config dir)")
    group.add_argument("--endpoint", metavar="HOST:PORT", help="gRPC endpoint of the API or a simulator")
    group.add_argument(
        "--plaintext", action="store_true", default=None, help="no TLS (loopback endpoints only)"
    )
    group.add_argument(
        "--sandbox", action="store_true", default=None, help="use the sandbox host and SANDBOX_TOKEN_STRING"
    )
    group.add_argument("--token-file", type=Path, metavar="FILE", help="read the API token from FILE")
    group.add_argument("--ca-file", type=Path, metavar="FILE", help="extra root CA (PEM) to trust")
    group.add_argument("--watchlist", type=Path, metavar="FILE", help="watchlist TOML file")
    group.add_argument("--log-file", type=Path, metavar="FILE", help="log file (JSON lines)")
    group.add_argument(
        SIM_SPEED,
        type=speed_arg,
        default=None,
        metavar="N",
        help="run the client's clock like `monitor sim --speed N` (testing against a fast simulator)",
    )


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds --store PATH and --no-store (the settings' store.path and store.enabled for one run)."""
    group = parser.add_argument_group("candle store")
    group.add_argument("--store", type=Path, metavar="PATH", help="candle store file (default: store.path)")
    group.add_argument("--no-store", action="store_true", default=None, help="run without the candle store")


def speed_arg(text: str) -> float:
    """A clock speed (`--sim-speed`, `monitor sim --speed`): a finite number in (0, MAX_SPEED]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0 < value <= MAX_SPEED):
        raise argparse.ArgumentTypeError(f"must be above 0 and at most {MAX_SPEED:g}, not {text}")
    return value


def interval_arg(text: str) -> Interval:
    """An --interval value (`1m`, `1h`, `1d`…), as argparse's `type`."""
    try:
        return Interval.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cli_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The nested settings values given on the command line (flags left out are absent)."""
    connection = {
        key: getattr(args, key, None) for key in ("endpoint", "plaintext", "sandbox", "token_file", "ca_file")
    }
    overrides: dict[str, Any] = {}
    if given := {key: value for key, value in connection.items() if value is not None}:
        overrides["connection"] = given
    if getattr(args, "watchlist", None) is not None:
        overrides["watchlist"] = args.watchlist
    store: dict[str, Any] = {}
    if getattr(args, "store", None) is not None:
        store["path"] = args.store
    if getattr(args, "no_store", None):
        store["enabled"] = False
    if store:
        overrides["store"] = store
    if getattr(args, "log_file", None) is not None:
        overrides["log"] = {"file": args.log_file}
    return overrides


def settings_from_args(args: argparse.Namespace) -> tuple[Settings, list[str]]:
    """Loads settings with the command-line flags on top; cached on `args`, so it runs once.

    A command without connection flags gets the settings of the files and the environment.

    Raises:
        SettingsError: the settings are invalid (one line, fit for stderr), or a connecting command
            names an endpoint or the sandbox but has no token.
    """
    cached: tuple[Settings, list[str]] | None = getattr(args, _CACHE, None)
    if cached is None:
        if hasattr(args, "token_file"):  # the command was built with add_connection_arguments
            cached = load_settings(cli_overrides=cli_overrides(args), config_file=args.config)
            if (missing := cached[0].missing_token()) is not None:
                raise SettingsError(missing)
        else:
            cached = load_settings()
        setattr(args, _CACHE, cached)
    return cached


def clock_from_args(args: argparse.Namespace) -> Clock:
    """Wall time, or the clock of an external `monitor sim --speed N` when --sim-speed N is given.

    The feed decides from its clock which candles are closed and where a gap ends, so against a sim
    running N times faster it needs the sim's clock: N times wall time from 00:00 UTC today (the
    sim's default origin: a pure function of wall time and the flags, like the sim's own clock).

    --sim-speed was checked when the flags were parsed (`speed_arg`).
    """
    speed: float | None = getattr(args, "sim_speed", None)
    if speed is None:
        return SystemClock()
    now = time.time()
    return ScaledClock(speed=speed, origin=now - now % DAY_S)


async def bounded(closing: Coroutine[Any, Any, None], event: str) -> None:
    """Awaits a close for at most CLOSE_TIMEOUT_S: quitting must not hang on a stuck connection."""
    try:
        await asyncio.wait_for(closing, CLOSE_TIMEOUT_S)
    except TimeoutError:
        log.warning(event, timeout=CLOSE_TIMEOUT_S)


def silence(stream: TextIO) -> None:
    """Points `stream` at /dev/null once its reader went away (`| head`): the exit flush stays quiet."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())


class Unreachable(Exception):
    """The endpoint cannot be reached (refused, DNS, TLS): the message says which."""


@contextlib.asynccontextmanager
async def history_source(
    config: FeedConfig,
    watch_id: str,
    *,
    clock: Clock,
    cache: CandleCache | None = None,
    max_age_s: float = 86_400.0,
) -> AsyncIterator[tuple[Instrument, HistoryClient]]:
    """A channel to `config`'s endpoint for one command: the instrument `watch_id` names and a
    HistoryClient on `clock`. The channel closes on exit.

    With `cache`, an instrument it saved less than `max_age_s` ago is used without a call, and
    the API's answer is saved there.

    Raises:
        InstrumentError: the id is malformed or not found.
        grpc.aio.AioRpcError: the API refused the call.
        Unreachable: the endpoint could not be reached (the reason named).
    """
    # Imported here: `monitor --help` imports this module and must not load grpc.
    import grpc

    from monitor.feed import HistoryClient, InstrumentResolver, connect_problem, metadata, open_channel

    channel = open_channel(config)
    try:
        headers = metadata(config)
        resolver = InstrumentResolver(channel, headers, cache=cache, max_age_s=max_age_s)
        try:
            instrument = await resolver.resolve(watch_id)
        except grpc.aio.AioRpcError as exc:
            # The look-up waits for the channel: a refused or unresolvable endpoint ends as its
            # deadline. Say what the channel meets instead.
            waited = exc.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)
            problem = await connect_problem(channel, config.ca_file) if waited else None
            if problem is None:
                raise
            raise Unreachable(f"cannot reach {config.endpoint}: {problem}") from None
        yield instrument, HistoryClient(channel, headers, clock=clock)
    finally:
        await channel.close()


async def fetch_or_exit_status(fetching: Awaitable[T], err: TextIO, *, unknown_id_status: int) -> T | int:
    """What `fetching` returns; if the look-up or the fetch fails, one line on `err` and the exit
    status: `unknown_id_status` for an id malformed or not found, EXIT_FAILED when the API refused
    (GetCandles or another call) or could not be reached. Other errors propagate.
    """
    import grpc

    from monitor.feed import HistoryError, InstrumentError

    try:
        return await fetching
    except InstrumentError as exc:
        print(f"monitor: error: {exc}", file=err)
        return unknown_id_status
    except HistoryError as exc:
        print(f"monitor: error: GetCandles failed: {exc}", file=err)
        return EXIT_FAILED
    except grpc.aio.AioRpcError as exc:
        print(f"monitor: error: {exc.code().name}: {exc.details() or 'request failed'}", file=err)
        return EXIT_FAILED
    except Unreachable as exc:
        print(f"monitor: error: {exc}", file=err)
        return EXIT_FAILED

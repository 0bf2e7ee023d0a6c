"""Flags shared by every command that connects, and turning them into Settings."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from monitor.clock import Clock, ScaledClock, SystemClock
from monitor.settings import Settings, SettingsError, load_settings

# Attribute names on the argparse namespace; `_settings` caches the result of settings_from_args.
_CACHE = "_monitor_settings"
SIM_SPEED = "--sim-speed"
DAY_S = 86_400


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
    # A command may still define its own --sim-speed (same meaning): adding it twice is an argparse error.
    if SIM_SPEED not in parser._option_string_actions:
        group.add_argument(
            SIM_SPEED,
            type=float,
            default=None,
            metavar="N",
            help="run the client's clock like `monitor sim --speed N` (testing against a fast simulator)",
        )


def sim_origin(now: float) -> float:
    """00:00 UTC of the day of `now`: the simulator's default origin (monitor.sim.server.default_origin)."""
    return now - now % DAY_S


def clock_from_args(args: argparse.Namespace) -> Clock:
    """Wall time, or the clock of an external `monitor sim --speed N` when --sim-speed N is given.

    The feed decides from its clock which candles are closed and where a gap ends, so against a sim
    running N times faster it needs the sim's clock: N times wall time from 00:00 UTC today (a pure
    function of wall time and the flags, like the sim's own clock).

    Raises:
        SettingsError: --sim-speed is not positive.
    """
    speed: float | None = getattr(args, "sim_speed", None)
    if speed is None:
        return SystemClock()
    if not speed > 0:  # also rejects nan
        raise SettingsError(f"{SIM_SPEED} must be positive")
    return ScaledClock(speed=speed, origin=sim_origin(time.time()))


def cli_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The nested settings values given on the command line (flags left out are absent)."""
    connection = {
        key: getattr(args, attr, None)
        for key, attr in (
            ("endpoint", "endpoint"),
            ("plaintext", "plaintext"),
            ("sandbox", "sandbox"),
            ("token_file", "token_file"),
            ("ca_file", "ca_file"),
        )
    }
    overrides: dict[str, Any] = {}
    if given := {key: value for key, value in connection.items() if value is not None}:
        overrides["connection"] = given
    if getattr(args, "watchlist", None) is not None:
        overrides["watchlist"] = args.watchlist
    if getattr(args, "log_file", None) is not None:
        overrides["log"] = {"file": args.log_file}
    return overrides


def settings_from_args(args: argparse.Namespace) -> tuple[Settings, list[str]]:
    """Loads settings with the command-line flags on top; cached on `args`, so it runs once.

    Raises:
        SettingsError: the settings are invalid (one line, fit for stderr).
    """
    cached: tuple[Settings, list[str]] | None = getattr(args, _CACHE, None)
    if cached is None:
        cached = load_settings(cli_overrides=cli_overrides(args), config_file=getattr(args, "config", None))
        setattr(args, _CACHE, cached)
    return cached


def has_connection_arguments(args: argparse.Namespace) -> bool:
    """True when the command was built with add_connection_arguments."""
    return hasattr(args, "token_file") and hasattr(args, "endpoint")

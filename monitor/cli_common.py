"""Flags shared by every command that connects, and turning them into Settings."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from monitor.settings import Settings, load_settings

# Attribute names on the argparse namespace; `_settings` caches the result of settings_from_args.
_CACHE = "_monitor_settings"


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds --config, --endpoint, --plaintext, --sandbox, --token-file, --ca-file, --watchlist, --log-file."""
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

"""The `monitor` command line: tui (default), sim, stream, record, chart, history, store and check."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, Protocol

import structlog

from monitor import __version__
from monitor.cli import chart, check, history, record, sim, store, stream, tui
from monitor.cli.common import settings_from_args
from monitor.exits import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from monitor.logging import Redactor, configure_logging
from monitor.settings import Settings, SettingsError
from monitor.watchlist import WatchlistError


class CommandModule(Protocol):
    """A command's module: it registers its subparser (and the function that runs it)."""

    def add_parser(self, subparsers: Any) -> None: ...


COMMANDS: dict[str, CommandModule] = {
    "tui": tui,
    "sim": sim,
    "stream": stream,
    "record": record,
    "chart": chart,
    "history": history,
    "store": store,
    "check": check,
}
"""Every command and its module; a module's add_parser(subparsers) registers it and sets its func.

Every module imports grpc and Textual only once its command runs, so `monitor --help` stays quick.
"""
DEFAULT_COMMAND = "tui"


def build_parser() -> tuple[argparse.ArgumentParser, list[str]]:
    """The parser with every command of the table; also returns the command names."""
    parser = argparse.ArgumentParser(
        prog="monitor",
        description="Live T-Invest market monitor in the terminal (with a built-in simulator).",
    )
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        module.add_parser(subparsers)
    return parser, list(COMMANDS)


def _with_default_command(argv: list[str], available: Sequence[str]) -> list[str]:
    """`monitor` and `monitor --sandbox ...` mean `monitor tui ...`."""
    if DEFAULT_COMMAND not in available:
        return argv
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        return [DEFAULT_COMMAND, *argv]
    return argv


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status (monitor.exits: 0 ok, 1, 2 usage, 130 Ctrl+C)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        parser, available = build_parser()
        try:
            args = parser.parse_args(_with_default_command(args_list, available))
        except SystemExit as exc:  # --help, --version and usage errors
            return exc.code if isinstance(exc.code, int) else EXIT_USAGE
        if getattr(args, "func", None) is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return _run(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # nothing a user can type may end in a traceback
        print(f"monitor: error: {Redactor().redact(_one_line(exc))}", file=sys.stderr)
        return EXIT_FAILED


def _run(args: argparse.Namespace) -> int:
    """Loads settings, starts logging, runs the command; turns every failure into one line."""
    redactor = Redactor()
    log_file = None  # set once logging writes to it: before that, structlog would print to stdout
    try:
        settings, notices = settings_from_args(args)
        token = settings.resolved_token()
        redactor = Redactor(token.get_secret_value() if token else None)
        _start_logging(settings, redactor.token)
        log_file = settings.log.file
        log = structlog.get_logger("monitor.cli")
        for notice in notices:
            log.info("settings_notice", notice=notice)
            if notice.startswith("warning:"):
                print(f"monitor: {notice}", file=sys.stderr)
        log.info("command_started", command=args.command, demo=token is None)
        return int(args.func(args))
    except (SettingsError, WatchlistError) as exc:
        print(f"monitor: error: {redactor.redact(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # one line on the terminal, the traceback in the log (once it is set up)
        if log_file is not None:
            structlog.get_logger("monitor.cli").exception("command_failed", command=args.command)
        where = f" (details in {log_file})" if log_file else ""
        print(f"monitor: error: {redactor.redact(_one_line(exc))}{where}", file=sys.stderr)
        return EXIT_FAILED


def _one_line(exc: BaseException) -> str:
    """`Type: message` on one line (a MemoryError has no message; some carry newlines)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _start_logging(settings: Settings, token: str | None) -> None:
    try:
        configure_logging(settings.log, token)
    except OSError as exc:
        raise SettingsError(f"cannot open log file {settings.log.file}: {exc.strerror or exc}") from None

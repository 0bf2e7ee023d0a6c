"""Exit statuses of every command, and how long closing may hold up an exit."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
"""The command ran and failed (a fatal feed error, a check that did not pass)."""
EXIT_USAGE = 2
"""Bad flags, settings or watchlist: the message names the file, line and field."""
EXIT_HANGUP = 129
"""128 + SIGHUP, as a shell reports a process its hang-up ended: the terminal was closed."""
EXIT_INTERRUPTED = 130
"""Ctrl+C (128 + SIGINT), from any command."""

CLOSE_TIMEOUT_S = 0.5
"""A hung channel or simulator must not hold the terminal: past this, quitting goes on anyway."""

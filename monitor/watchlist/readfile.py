"""Reading a watchlist file with a bound: regular files only, at most MAX_BYTES, never blocking."""

from __future__ import annotations

import os
from pathlib import Path

from monitor.files import UnreadableFile, read_with_stat
from monitor.watchlist.model import WatchlistError

MAX_BYTES = 1 << 20
"""1 MiB: a thousand-instrument list with comments is ~40 KiB; more is not a watchlist."""


class WatchlistMissing(WatchlistError):
    """The watchlist file does not exist (a first save may create it)."""


def read_watchlist_bytes(
    path: Path, limit: int = MAX_BYTES, *, shown: Path | None = None
) -> tuple[bytes, os.stat_result]:
    """The file's bytes and its stat (of the link's target for a symlink); messages name `shown` or `path`.

    Opened non-blocking so a FIFO cannot hang the caller, checked to be a regular file, and read
    up to `limit` bytes so a link to /dev/zero or a runaway file cannot exhaust memory.

    Raises:
        WatchlistMissing: there is no such file.
        WatchlistError: `PATH: why it cannot be read`, for every other problem.
    """
    name = shown or path
    try:
        return read_with_stat(path, limit)
    except FileNotFoundError:
        raise WatchlistMissing(f"{name}: cannot read: No such file or directory") from None
    except UnreadableFile as exc:
        raise WatchlistError(f"{name}: cannot read: {_reason(exc, limit)}") from None
    except OSError as exc:
        raise WatchlistError(f"{name}: cannot read: {exc.strerror or exc}") from None


def _reason(exc: UnreadableFile, limit: int) -> str:
    """The watchlist's wording of a bounded-read refusal."""
    reason = str(exc)
    if reason.startswith("not a regular file ("):
        return f"{reason.removeprefix('not a regular file (').removesuffix(')')}, not a watchlist file"
    if reason.startswith("larger than"):
        return f"larger than {limit / (1 << 20):g} MiB" if limit >= 1 << 20 else f"larger than {limit} bytes"
    return reason

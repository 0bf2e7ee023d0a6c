"""Reading a watchlist file with a bound: regular files only, at most MAX_BYTES, never blocking."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from monitor.watchlist.model import WatchlistError

MAX_BYTES = 1 << 20
"""1 MiB: a thousand-instrument list with comments is ~40 KiB; more is not a watchlist."""


class WatchlistMissing(WatchlistError):
    """The watchlist file does not exist (a first save may create it)."""


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _size(limit: int) -> str:
    return f"{limit / (1 << 20):g} MiB" if limit >= 1 << 20 else f"{limit} bytes"


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
    size = _size(limit)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise WatchlistMissing(f"{name}: cannot read: No such file or directory") from None
    except OSError as exc:
        raise WatchlistError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise WatchlistError(f"{name}: cannot read: {_kind(info.st_mode)}, not a watchlist file")
        if info.st_size > limit:
            raise WatchlistError(f"{name}: cannot read: larger than {size}")
        chunks: list[bytes] = []
        got = 0
        while got <= limit:  # the file may grow while it is read: the bound holds regardless
            chunk = os.read(fd, min(1 << 16, limit + 1 - got))
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        if got > limit:
            raise WatchlistError(f"{name}: cannot read: larger than {size}")
        return b"".join(chunks), info
    except OSError as exc:
        raise WatchlistError(f"{name}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)

"""The user's files: bounded reads (regular files only, up to a cap) and atomic writes (never half-done)."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

KIB = 1024
CERT_FILE_CAP = 1024 * KIB
"""A CA bundle is ~200 KiB at most; a bigger `ca_file` is a wrong path."""


class UnreadableFile(OSError):
    """The path is not a regular file or is larger than the cap; `strerror` says which, in words."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EINVAL, reason)

    def __str__(self) -> str:
        return str(self.strerror)


def read_bytes_bounded(path: Path, cap: int) -> bytes:
    """The bytes of the regular file `path`, at most `cap` of them (see `read_with_stat`)."""
    return read_with_stat(path, cap)[0]


def read_with_stat(path: Path, cap: int) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file `path` (at most `cap`) and its stat (a link's target's).

    A symlink to /dev/zero would read until memory runs out and a FIFO would block for ever: the
    file is opened without blocking (a FIFO with no writer opens at once) and checked before any
    byte is read.

    Raises:
        UnreadableFile: not a regular file (a directory, a FIFO, a device), or larger than `cap`.
        OSError: the file cannot be opened (missing, no permission).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnreadableFile(f"not a regular file ({kind_of(info.st_mode)})")
        if info.st_size > cap:
            raise UnreadableFile(f"larger than {size_text(cap)}")
        chunks: list[bytes] = []
        size = 0
        # Read up to one byte past the cap: a file that grew after fstat is caught too.
        while size <= cap and (chunk := os.read(fd, min(1 << 16, cap + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
        if size > cap:
            raise UnreadableFile(f"larger than {size_text(cap)}")
        return b"".join(chunks), info
    finally:
        os.close(fd)


def read_text_bounded(path: Path, cap: int) -> str:
    """`read_bytes_bounded` decoded as UTF-8 (raises UnicodeDecodeError on bad bytes)."""
    return read_bytes_bounded(path, cap).decode("utf-8")


def kind_of(mode: int) -> str:
    """What a file that is not a regular one is, in words (\"a FIFO\")."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def size_text(cap: int) -> str:
    """A size cap in words (\"1024 KiB\")."""
    return f"{cap // KIB} KiB" if cap >= KIB else f"{cap} bytes"


def write_atomically(
    path: Path, text: str, mode: int, *, abandon_if: Callable[[], bool] | None = None
) -> bool:
    """Writes `text` to a temp file beside `path`, fsyncs it, gives it `mode` and renames it over `path`.

    A crash or an error leaves `path` as it was, never half-written, and no temp file behind. The
    parent directory must exist. `abandon_if` is asked just before the rename: when it says True
    (the file changed under the writer) nothing is written and the answer is False.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        if abandon_if is not None and abandon_if():
            Path(tmp).unlink(missing_ok=True)
            return False
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True

"""Logging: structlog JSON lines to a file, stdlib loggers routed there too, secrets redacted."""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import logging
import os
import re
import sys
import threading
from collections.abc import MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

import structlog
from structlog.typing import Processor, WrappedLogger

if TYPE_CHECKING:
    from monitor.settings import LogSettings


REDACTED = "***"
WHOLE_RUN_BELOW = 8
"""A token shorter than this is blanked only where it stands alone, not inside a longer run."""
_RUN = r"A-Za-z0-9_\-"
"""Characters that continue a run of token characters (base64url, a T-Invest token's alphabet);
not `.`, which ends sentences."""
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
# T-Invest tokens look like t.<base64url>; Bearer values are credentials whatever their shape.
_SECRET_SHAPES = (
    re.compile(r"\bt\.[A-Za-z0-9_\-]{40,}"),
    re.compile(r"(?i)(?<=bearer )[^\s\"',}]+"),
)
_HANDLER_NAME = "monitor-file"
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
"""Open errors that mean the disk (or a quota, or `ulimit -f`) is full: the monitor runs without a log."""
_current: LogFile | None = None


def _write_all(fd: int, data: bytes) -> None:
    """Writes every byte of `data` (a regular file may take a line in parts)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


class LogFile:
    """The log's one writer, shared by structlog and the stdlib handler; it never raises.

    The first write that fails (a full disk, a quota, a file that may not grow) closes the file,
    says so once on stderr (the terminal for the CLI commands; Textual captures it while the TUI
    runs, which shows it on the status bar instead), and every later line is dropped. A raising
    log call would end whatever logged: the feed's receive loop, so the stream went silent.
    Unbuffered (one write per line), so no half line is left to fail again at exit.
    """

    def __init__(self, path: Path, fd: int | None, failure: str | None = None) -> None:
        self.path = path
        self._fd = fd
        self._lock = threading.Lock()
        self.failure = failure
        """Why the log is off (None while it writes)."""

    @classmethod
    def open(cls, path: Path) -> LogFile:
        """Opens `path` for appending; on a full disk, a LogFile that is already off (and said so)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # O_NONBLOCK: a FIFO with no reader fails at once (ENXIO) instead of hanging the start.
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NONBLOCK, 0o666)
        except OSError as exc:
            if exc.errno not in _DISK_FULL:
                raise
            log_file = cls(path, None)
            log_file._fail(exc)
            return log_file
        os.set_blocking(fd, True)
        return cls(path, fd)

    def write(self, text: str) -> int:
        fd = self._fd
        if fd is not None:
            try:
                _write_all(fd, text.encode("utf-8", "backslashreplace"))
            except (OSError, ValueError) as exc:
                self._fail(exc)
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered; here for the handlers that call it."""

    def _fail(self, exc: Exception) -> None:
        with self._lock:
            if self.failure is not None:
                return
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            self.failure = f"cannot write the log file {self.path} ({reason})"
            fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):  # already failing; the close only frees the descriptor
                os.close(fd)
        with contextlib.suppress(OSError, ValueError):  # stderr gone too (a closed pipe): nowhere to say it
            print(f"monitor: warning: {self.failure}; running without a log", file=sys.stderr, flush=True)


def log_failure() -> str | None:
    """Why logging stopped (a full disk), or None while the log file takes every line."""
    return _current.failure if _current is not None else None


class _FileHandler(logging.StreamHandler[LogFile]):
    def handleError(self, record: logging.LogRecord) -> None:
        """Drops a record that cannot be formatted (a library's bad %-args): the default prints
        "--- Logging error ---" and a traceback to stderr, over the TUI."""


class Redactor:
    """A structlog processor that replaces the token and token-shaped strings with `***`.

    Placed after the renderer, it sees the final line, so nothing nested escapes it (exception
    text, reprs of objects, stdlib messages formatted from args). A JSON line is redacted as
    decoded text, so an escape can neither hide the token (`\\"`) nor be cut in half by the mask.

    Where the token is blanked: a token of WHOLE_RUN_BELOW characters or more (a real one has
    ~90) wherever it appears, inside a longer word too, since 8 characters of the user's secret
    there are the secret leaking, not a coincidence. A shorter one (a simulator's `--token tk`)
    only where no letter, digit, `_` or `-` continues it, so `ab` leaves "table" whole, yet is
    blanked standing alone, beside punctuation, in a URL, a repr or a JSON string.
    """

    def __init__(self, token: str | None = None) -> None:
        self.token = token or None
        self._pattern: re.Pattern[str] | None = None
        self._mask = REDACTED
        if self.token:
            self._mask = _mask_for(self.token)
            forms = "|".join(map(re.escape, written_forms(self.token)))
            if len(self.token) < WHOLE_RUN_BELOW:
                forms = rf"(?<![{_RUN}])(?:{forms})(?![{_RUN}])"
            self._pattern = re.compile(forms)

    def redact(self, text: str) -> str:
        """`text` with every secret replaced."""
        for pattern in _SECRET_SHAPES:
            text = pattern.sub(REDACTED, text)
        if self._pattern is not None:
            # Until none is left: a short token beside a blanked one may stand alone only then.
            # Each pass blanks token characters for mask ones it never matches, so this ends.
            count = 1
            while count:
                text, count = self._pattern.subn(self._mask, text)
        return text

    def __call__(self, _logger: WrappedLogger, _method_name: str, event: Any) -> Any:
        if isinstance(event, str):
            return self._line(event)
        if isinstance(event, MutableMapping):
            return {key: self._value(value) for key, value in event.items()}
        return event

    def _line(self, line: str) -> str:
        try:
            decoded = json.loads(line)
        except ValueError:
            return self.redact(line)
        if not isinstance(decoded, dict):
            return self.redact(line)
        redacted = self._decoded(decoded)
        # Unchanged, the line stays byte for byte as the renderer wrote it.
        return line if redacted == decoded else json.dumps(redacted)

    def _decoded(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact(str(key)): self._decoded(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self._decoded(item) for item in value]
        return value

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict | list | tuple):
            return self.redact(repr(value))
        return value


def written_forms(token: str) -> list[str]:
    """How text may hold `token`: as is, in a repr (backslashes doubled, maybe `\\'`), and either
    of those in a JSON string (`"` and `\\` escaped); longest first, so the alternation takes it."""
    in_repr = token.replace("\\", "\\\\")
    forms = {token, in_repr, in_repr.replace("'", "\\'")}
    forms |= {json.dumps(form)[1:-1] for form in forms}
    return sorted(forms, key=len, reverse=True)


def _mask_for(token: str) -> str:
    """`***`, unless the token holds a `*`: then three of a character it lacks, so a mask and
    its neighbours can never spell the token again."""
    if "*" not in token:
        return REDACTED
    return next(char for char in map(chr, itertools.count(0x2022)) if char not in token) * 3


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]


def configure_logging(settings: LogSettings, token: str | None = None, *, cache: bool = True) -> None:
    """Sends structlog and stdlib logging (root WARNING+, grpc, asyncio) to `settings.file` as JSON.

    A full disk, at the start or later, turns the log off with one notice (LogFile), never an error.

    Args:
        settings: the log section (file and level).
        token: the API token, redacted wherever it would appear.
        cache: cache loggers on first use (production); tests pass False to reconfigure.

    Raises:
        OSError: the file cannot be opened for another reason than a full disk (a directory, no
            permission): a mistake in the settings that the CLI reports as one.
    """
    global _current
    stream = _current = LogFile.open(settings.file)
    redactor = Redactor(token)
    level = _LEVELS[settings.level]
    structlog.configure(
        processors=[*_shared_processors(), structlog.processors.JSONRenderer(), redactor],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # WriteLogger only calls write and flush, which LogFile has; it is typed for a TextIO.
        logger_factory=structlog.WriteLoggerFactory(file=cast(TextIO, stream)),
        cache_logger_on_first_use=cache,
    )
    handler = _FileHandler(stream)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *_shared_processors()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
                redactor,
            ],
        )
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        # Any handler would otherwise write over the TUI (a stray basicConfig, pytest's excepted).
        if old.get_name() == _HANDLER_NAME or (isinstance(old, logging.StreamHandler) and _is_terminal(old)):
            root.removeHandler(old)
            if old.get_name() == _HANDLER_NAME:
                old.close()  # its LogFile stays open: loggers cached on first use may still write to it
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    # Library chatter below WARNING is only wanted when debugging.
    for name in ("grpc", "asyncio"):
        logging.getLogger(name).setLevel(logging.DEBUG if level == logging.DEBUG else logging.WARNING)
    logging.getLogger("monitor").setLevel(level)
    logging.captureWarnings(True)


def _is_terminal(handler: logging.StreamHandler[Any]) -> bool:
    stream = getattr(handler, "stream", None)
    return stream is not None and getattr(stream, "name", None) in ("<stderr>", "<stdout>")

"""Logging: structlog JSON lines to a file, stdlib loggers routed there too, secrets redacted."""

from __future__ import annotations

import logging
import re
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import structlog
from structlog.typing import Processor, WrappedLogger

if TYPE_CHECKING:
    from monitor.settings import LogSettings


REDACTED = "***"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}
# T-Invest tokens look like t.<base64url>; Bearer values are credentials whatever their shape.
_SECRET_SHAPES = (
    re.compile(r"\bt\.[A-Za-z0-9_\-]{40,}"),
    re.compile(r"(?i)(?<=bearer )[^\s\"',}]+"),
)
_HANDLER_NAME = "monitor-file"


class Redactor:
    """A structlog processor that replaces the token and token-shaped strings with `***`.

    Placed after the renderer, it sees the final line, so nothing nested escapes it (exception
    text, reprs of objects, stdlib messages formatted from args).
    """

    def __init__(self, token: str | None = None) -> None:
        self.token = token or None

    def redact(self, text: str) -> str:
        """`text` with every secret replaced."""
        if self.token:
            text = text.replace(self.token, REDACTED)
        for pattern in _SECRET_SHAPES:
            text = pattern.sub(REDACTED, text)
        return text

    def __call__(self, _logger: WrappedLogger, _method_name: str, event: Any) -> Any:
        if isinstance(event, str):
            return self.redact(event)
        if isinstance(event, MutableMapping):
            return {key: self._value(value) for key, value in event.items()}
        return event

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict | list | tuple):
            return self.redact(repr(value))
        return value


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]


def configure_logging(settings: LogSettings, token: str | None = None, *, cache: bool = True) -> None:
    """Sends structlog and stdlib logging (root WARNING+, grpc, asyncio) to `settings.file` as JSON.

    Args:
        settings: the log section (file and level).
        token: the API token, redacted wherever it would appear.
        cache: cache loggers on first use (production); tests pass False to reconfigure.
    """
    settings.file.parent.mkdir(parents=True, exist_ok=True)
    stream = settings.file.open("a", buffering=1, encoding="utf-8")
    redactor = Redactor(token)
    level = _LEVELS[settings.level]
    structlog.configure(
        processors=[*_shared_processors(), structlog.processors.JSONRenderer(), redactor],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.WriteLoggerFactory(file=stream),
        cache_logger_on_first_use=cache,
    )
    handler = logging.StreamHandler(stream)
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
                old.close()  # its stream stays open: loggers cached on first use may still write to it
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

"""Logging: JSON lines to the file, stdlib routed there too, secrets redacted, nothing on the terminal."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from monitor.logging import Redactor, configure_logging
from monitor.settings import LogSettings

TOKEN = "t." + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-" * 2  # token-shaped, built at run time
OTHER = "t." + "Z" * 50


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "monitor.log"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.captureWarnings(False)
    structlog.reset_defaults()


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_token_never_reaches_the_file(log_file: Path, capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(file=log_file, level="debug"), token=TOKEN, cache=False)
    log = structlog.get_logger("test")
    log.info("direct", token=TOKEN, nested={"auth": f"Bearer {TOKEN}"})
    log.info(f"in the event {TOKEN}")
    try:
        raise RuntimeError(f"failed with authorization: Bearer {TOKEN}")
    except RuntimeError:
        log.exception("boom")
    logging.getLogger("grpc._cython").error("metadata %s", [("authorization", f"Bearer {TOKEN}")])
    try:
        raise ValueError(TOKEN)
    except ValueError:
        logging.getLogger("asyncio").exception("loop error")
    log.info("shaped", other=OTHER, header="Bearer something-secret")

    text = log_file.read_text()
    assert TOKEN not in text
    assert OTHER not in text
    assert "something-secret" not in text
    events = read(log_file)
    assert [e["event"] for e in events] == [
        "direct",
        "in the event ***",
        "boom",
        "metadata [('authorization', 'Bearer ***')]",
        "loop error",
        "shaped",
    ]
    assert events[0]["token"] == "***" and events[0]["level"] == "info"
    assert "RuntimeError" in str(events[2]["exception"]) and "Bearer ***" in str(events[2]["exception"])
    assert events[3]["level"] == "error" and events[3]["logger"] == "grpc._cython"
    assert "ValueError: ***" in str(events[4]["exception"])
    assert str(events[0]["timestamp"]).endswith("Z")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_level_filters_and_stdlib_below_warning_is_dropped(log_file: Path) -> None:
    configure_logging(LogSettings(file=log_file, level="warning"), cache=False)
    log = structlog.get_logger()
    log.info("hidden")
    log.warning("shown", n=1)
    logging.getLogger("grpc").info("library chatter")
    logging.getLogger("somelib").warning("library warning")
    assert [(e["event"], e["level"]) for e in read(log_file)] == [
        ("shown", "warning"),
        ("library warning", "warning"),
    ]


def test_redactor_shapes() -> None:
    redactor = Redactor("plain-secret")
    assert redactor.redact("x plain-secret y") == "x *** y"
    assert redactor.redact("authorization: Bearer abc.def") == "authorization: Bearer ***"
    assert redactor.redact(f"token={OTHER}!") == "token=***!"
    assert redactor.redact("t.short") == "t.short"

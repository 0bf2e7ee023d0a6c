"""Logging: JSON lines to the file, stdlib routed there too, secrets redacted, nothing on the terminal."""

from __future__ import annotations

import errno
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from monitor.logging import Redactor, configure_logging, log_failure
from monitor.settings import LogSettings

TOKEN = "t." + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-" * 2  # token-shaped, built at run time
OTHER = "t." + "Z" * 50


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "monitor.log"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Puts logging back as it was, the log file monitor.logging knows of (and its failure) too."""
    import monitor.logging as monitor_logging

    root = logging.getLogger()
    handlers, level, current = list(root.handlers), root.level, monitor_logging._current
    yield
    monitor_logging._current = current
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


def notices(err: str) -> list[str]:
    return [line for line in err.splitlines() if "running without a log" in line]


def log_everything(count: int) -> None:
    """structlog and stdlib lines, then (straight to the file's handler: pytest's own capture
    would raise) a stdlib record that cannot be formatted."""
    log = structlog.get_logger("test")
    for n in range(count):
        log.info("line", n=n)
        logging.getLogger("somelib").warning("warning %d", n)
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == "monitor-file"]
    handler.handle(logging.LogRecord("somelib", logging.WARNING, __file__, 1, "bad args %d %d", (1,), None))


def test_a_full_disk_turns_the_log_off_with_one_notice(capfd: pytest.CaptureFixture[str]) -> None:
    """/dev/full takes the open and fails every write (ENOSPC): no call raises, no "Logging error"
    traceback, one line on stderr (the CLI commands' terminal)."""
    configure_logging(LogSettings(file=Path("/dev/full")), cache=False)
    assert log_failure() is None  # the open worked; the first line fails
    log_everything(20)
    failure = log_failure()
    assert failure is not None and "/dev/full" in failure and "No space left on device" in failure
    out, err = capfd.readouterr()
    assert out == ""
    assert notices(err) == [
        "monitor: warning: cannot write the log file /dev/full (No space left on device); "
        "running without a log"
    ]
    assert "Traceback" not in err and "Logging error" not in err


def test_a_log_that_stops_growing_mid_run_keeps_what_it_had(
    log_file: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file takes 5 lines, then the disk is full (or `ulimit -f` is reached): the lines before
    stay, later calls return normally and drop their lines, the notice comes once."""
    import monitor.logging as monitor_logging

    write_all, writes = monitor_logging._write_all, [0]

    def filling(fd: int, data: bytes) -> None:
        writes[0] += 1
        if writes[0] > 5:
            raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))
        write_all(fd, data)

    monkeypatch.setattr(monitor_logging, "_write_all", filling)
    configure_logging(LogSettings(file=log_file), cache=False)
    log_everything(10)
    assert [(e["event"], e.get("n")) for e in read(log_file)] == [
        ("line", 0),
        ("warning 0", None),
        ("line", 1),
        ("warning 1", None),
        ("line", 2),
    ]
    assert log_failure() == f"cannot write the log file {log_file} (File too large)"
    _out, err = capfd.readouterr()
    assert len(notices(err)) == 1 and "Traceback" not in err and "Logging error" not in err


def test_an_unopenable_log_file_is_still_an_error(tmp_path: Path) -> None:
    """Not a full disk but a mistake in the settings (a directory): the CLI says so and exits 2."""
    with pytest.raises(IsADirectoryError):
        configure_logging(LogSettings(file=tmp_path), cache=False)

"""Shared fixtures: a simulator on a loopback port with fast time, a clean environment, logging put back."""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog

from monitor.clock import ScaledClock
from monitor.sim import SimConfig, SimServer


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    """A simulator where time runs 600x (a minute candle closes every 100 ms of wall time)."""
    async with SimServer(SimConfig(), clock=ScaledClock(speed=600)) as server:
        yield server


@pytest.fixture(autouse=True)
def _private_data_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test (and every command it starts) keeps its store and state out of the user's home.

    A test that needs its own directories sets them again; this only makes the default private.
    """
    base = tmp_path_factory.mktemp("xdg")
    for name in ("XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.setenv(name, str(base / name.lower()))


@pytest.fixture(autouse=True)
def _collector_unfrozen() -> Iterator[None]:
    """An app under test may freeze the collector and raise its thresholds (monitor.ui.gcpolicy);
    the next test starts thawed, with the thresholds it had."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No MONITOR_* variable or API token from the caller's environment, config and state under
    tmp_path (cfg, state): a command under test sees only what its test gives it.

    Not autouse: the modules that run commands ask for it (`pytest.mark.usefixtures`).
    """
    for name in list(os.environ):
        if name.startswith("MONITOR_") or name in ("TINKOFF_TOKEN_STRING", "SANDBOX_TOKEN_STRING"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """main() configures global logging; undo it so other tests start clean.

    Not autouse: only the modules that run main() ask for it (`pytest.mark.usefixtures`).
    """
    root = logging.getLogger()
    handlers = list(root.handlers)
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    logging.captureWarnings(False)
    structlog.reset_defaults()

"""`monitor stream` with a log that cannot be written (/dev/full) or stops growing mid-run (ulimit -f)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_stream_restart import Lines, processes

__all__ = ["processes"]  # a fixture, used by name

DEADLINE_S = 40.0
LIMIT_KB = 64
"""`ulimit -f` in bash counts KiB: the log file may not grow past this."""
HEADROOM = 600
"""Bytes the log may still take after the prefill: a few lines, then writes fail with EFBIG."""
NOTICE = "running without a log"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    for name in ("TINKOFF_TOKEN_STRING", "SANDBOX_TOKEN_STRING", "MONITOR_CONFIG_FILE"):
        values.pop(name, None)  # no token: the built-in simulator
    return values


def stream(log: str, env: dict[str, str], file_limit_kb: int | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "monitor", "stream", "SBER_TQBR", "--json", "--sim-speed", "300"]
    command += ["--log-file", log]
    if file_limit_kb is not None:
        # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG, as on a full disk.
        command = ["bash", "-c", f'ulimit -f {file_limit_kb} && exec "$@"', "bash", *command]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def closed_live_candle(line: str) -> bool:
    record = json.loads(line)
    return bool(record["closed"] and record["source"] == "stream")


def goes_on_after_the_notice(proc: subprocess.Popen[str]) -> list[str]:
    """Waits for the one notice, then for closed live candles after it; SIGTERM; stderr's lines."""
    deadline = time.monotonic() + DEADLINE_S
    out, err = Lines(proc.stdout), Lines(proc.stderr)  # type: ignore[arg-type]
    err.wait_for(lambda line: NOTICE in line, deadline, "the notice that the log is off")
    for _ in range(10):  # at 300x a minute candle closes every 0.2 s
        out.wait_for(closed_live_candle, deadline, "closed live candles after the log failed")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(max(1.0, deadline - time.monotonic())) == 0
    err.drain(5)
    assert sum(NOTICE in line for line in err.all) == 1, err.all
    assert not any("Traceback" in line or "Logging error" in line or "error:" in line for line in err.all), (
        err.all
    )
    return err.all


def test_stream_with_the_log_on_dev_full_streams_and_says_so_once(
    env: dict[str, str], processes: list[subprocess.Popen[str]]
) -> None:
    proc = stream("/dev/full", env)
    processes.append(proc)
    lines = goes_on_after_the_notice(proc)
    assert "monitor: warning: cannot write the log file /dev/full (No space left on device)" in "\n".join(
        lines
    )


def test_stream_whose_log_stops_growing_mid_run_streams_on(
    tmp_path: Path, env: dict[str, str], processes: list[subprocess.Popen[str]]
) -> None:
    log = tmp_path / "monitor.log"
    prefill = "x" * (LIMIT_KB * 1024 - HEADROOM - 1) + "\n"
    log.write_text(prefill)
    proc = stream(str(log), env, file_limit_kb=LIMIT_KB)
    processes.append(proc)
    lines = goes_on_after_the_notice(proc)
    assert f"cannot write the log file {log} (File too large)" in "\n".join(lines)
    written = log.read_text()[len(prefill) :]
    assert '"event": "command_started"' in written  # it did log, until the file could not grow
    assert log.stat().st_size <= LIMIT_KB * 1024

"""`monitor sim` as a user runs it: how to connect, its exit statuses, one simulator per port."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.sim import SimConfig, SimServer

REPO = Path(__file__).resolve().parent.parent


def env(tmp_path: Path) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MONITOR_") and not k.endswith("_TOKEN_STRING")
    }
    base.update(
        XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_STATE_HOME=str(tmp_path / "state"),
        PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1",
    )  # fmt: skip
    return base


@pytest.fixture
def sim_process(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """A running `monitor sim` and the two lines it printed first."""
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "sim"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env(tmp_path),
    )  # fmt: skip
    assert process.stdout is not None
    lines = [process.stdout.readline(), process.stdout.readline()]
    yield process, lines
    if process.poll() is None:
        process.kill()
        process.communicate(timeout=10)


@pytest.mark.timeout(60)
def test_the_printed_command_reaches_the_simulator(
    tmp_path: Path, sim_process: tuple[subprocess.Popen[str], list[str]]
) -> None:
    process, (listening, connect) = sim_process
    address, token = listening.split()[4], listening.split()[6]
    assert connect == f"connect with: TINKOFF_TOKEN_STRING={token} monitor --endpoint {address} --plaintext\n"
    assignment, program, *flags = shlex.split(connect.removeprefix("connect with: "))
    name, _, value = assignment.partition("=")
    assert program == "monitor"
    check = subprocess.run(
        [sys.executable, "-m", "monitor", "check", *flags], capture_output=True, text=True,
        env={**env(tmp_path), name: value}, timeout=60,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"checking {address} (live API)" in check.stdout and "all instruments found" in check.stdout
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 0 and "Traceback" not in err  # SIGTERM: a clean stop


@pytest.mark.timeout(60)
def test_a_second_simulator_on_a_held_port_fails(
    tmp_path: Path, sim_process: tuple[subprocess.Popen[str], list[str]]
) -> None:
    """With SO_REUSEPORT both bound and split the connections between two markets."""
    _, (listening, _) = sim_process
    host, _, port = listening.split()[4].rpartition(":")
    second = subprocess.run(
        [sys.executable, "-m", "monitor", "sim", "--port", port], capture_output=True, text=True,
        env=env(tmp_path), timeout=30,
    )  # fmt: skip
    assert second.returncode == 1
    assert f"monitor sim: cannot listen on {host}:{port} (in use, or not an address here)\n" in second.stderr
    assert "Traceback" not in second.stderr and second.stdout == ""


async def test_simserver_refuses_a_port_another_holds() -> None:
    async with SimServer(SimConfig(port=0)) as first:
        second = SimServer(SimConfig(port=first.port))
        with pytest.raises(RuntimeError, match="Failed to bind"):
            await second.start()
        await second.stop()

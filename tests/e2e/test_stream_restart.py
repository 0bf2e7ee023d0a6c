"""`monitor stream` against a `monitor sim` that is killed and restarted: every closed candle once."""

from __future__ import annotations

import calendar
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from monitor.market import Interval
from monitor.sim import SimConfig, SimServer

SPEED = 300.0
SEED = 3
TOKEN = "e2e-sim-token"
SBER_UID = "e6123145-9665-43e0-8413-cd61b8aa9b13"
DEADLINE_S = 50.0


class Lines:
    """The lines a child process writes to one pipe, read by a thread, awaited with timeouts."""

    def __init__(self, pipe: IO[str]) -> None:
        self.all: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
        self._thread.start()

    def _pump(self, pipe: IO[str]) -> None:
        for line in pipe:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate: Callable[[str], bool], deadline: float, what: str) -> str:
        """The next line (from now on) that satisfies `predicate`; fails at `deadline`."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"timed out waiting for {what}; last lines: {self.all[-5:]}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                pytest.fail(f"the process ended while waiting for {what}; last lines: {self.all[-5:]}")
            self.all.append(line)
            if predicate(line):
                return line

    def drain(self, timeout: float) -> None:
        """Reads what is left after the process ended."""
        self._thread.join(timeout)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return
            if line is not None:
                self.all.append(line)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def closed_candles(stdout: list[str]) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in stdout if line.strip()]
    return [r for r in records if r["closed"]]


def test_stream_survives_sim_restart(tmp_path: Path, processes: list[subprocess.Popen[str]]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    port = free_port()
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TINKOFF_TOKEN_STRING": TOKEN,
    }
    env.pop("MONITOR_CONFIG_FILE", None)
    sim_args = ["sim", "--port", str(port), "--speed", str(int(SPEED)), "--seed", str(SEED), "--token", TOKEN]

    sim = start(sim_args, env)
    processes.append(sim)
    Lines(sim.stdout).wait_for(lambda line: "listening on" in line, deadline, "the sim to listen")  # type: ignore[arg-type]

    stream = start(
        [
            "stream", "SBER_TQBR", "--interval", "1m", "--json",
            "--endpoint", f"127.0.0.1:{port}", "--plaintext", "--sim-speed", str(int(SPEED)),
            "--log-file", str(tmp_path / "stream.log"),
        ],
        env,
    )  # fmt: skip
    processes.append(stream)
    out, err = Lines(stream.stdout), Lines(stream.stderr)  # type: ignore[arg-type]
    err.wait_for(lambda line: " LIVE" in line, deadline, "LIVE")

    def closed_stream_candle(line: str) -> bool:
        record = json.loads(line)
        return bool(record["closed"] and record["source"] == "stream")

    for _ in range(3):
        out.wait_for(closed_stream_candle, deadline, "closed stream candles before the outage")

    sim.send_signal(signal.SIGKILL)
    sim.wait(5)
    err.wait_for(lambda line: " RECONNECTING" in line, deadline, "RECONNECTING")
    # The outage itself: one wall second is five sim minutes at 300x.
    time.sleep(1.0)
    restarted = start(sim_args, env)
    processes.append(restarted)
    Lines(restarted.stdout).wait_for(lambda line: "listening on" in line, deadline, "the restarted sim")  # type: ignore[arg-type]
    err.wait_for(lambda line: " LIVE" in line, deadline, "LIVE after the restart")
    for _ in range(3):
        out.wait_for(closed_stream_candle, deadline, "closed stream candles after the restart")

    stream.send_signal(signal.SIGTERM)
    assert stream.wait(max(1.0, deadline - time.monotonic())) == 0
    out.drain(5)
    err.drain(5)
    assert not any("Traceback" in line for line in err.all), err.all

    states = [line.split()[2] for line in err.all if line.startswith("monitor: 20")]
    assert "RECONNECTING" in states
    assert "LIVE" in states[states.index("RECONNECTING") :]

    closed = closed_candles(out.all)
    firsts = [r for r in closed if not r.get("correction")]
    times = [r["time"] for r in firsts]
    assert len(times) == len(set(times)), "a closed candle was printed twice without being a correction"
    assert all(r["instrument"] == "SBER_TQBR" and r["uid"] == SBER_UID for r in closed)

    # The truth: the same market, computed in-process from the same seed and speed.
    truth = SimServer(SimConfig(seed=SEED, speed=SPEED))
    epoch = sorted(_epoch(t) for t in times)
    history = truth.history(SBER_UID, Interval.M1, epoch[0], epoch[-1] + 60)
    missing = sorted({c.time for c in history} - set(epoch))
    extra = sorted(set(epoch) - {c.time for c in history})
    assert not missing and not extra, f"missing {missing}, not in the market {extra}; stderr {err.all}"
    # The outage was filled from GetCandles: backfilled candles newer than the first live one.
    first_live = min(_epoch(r["time"]) for r in firsts if r["source"] == "stream")
    gap = [r for r in firsts if r["source"] == "backfill" and _epoch(r["time"]) > first_live]
    assert len(gap) >= 3, "the outage was not backfilled"
    # Final values (corrections applied) match, except the newest, which may be corrected later.
    final = {_epoch(r["time"]): r for r in closed}
    for candle in history[:-2]:
        record = final[candle.time]
        got = (record["open"], record["high"], record["low"], record["close"], record["volume"])
        assert got == (candle.open, candle.high, candle.low, candle.close, candle.volume), record


def _epoch(iso: str) -> int:
    return calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ"))

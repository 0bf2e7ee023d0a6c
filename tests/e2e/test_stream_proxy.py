"""`monitor stream --json` through a fault proxy (latency, RST, blackhole): every line against the sim."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.market import Interval, SeriesKey
from monitor.sim import SimConfig, SimServer
from tests.e2e.test_stream_restart import SBER_UID, Lines, _epoch, free_port, processes, start
from tests.netfault import FaultProxy
from tests.netfault.measure import closed_lines_per_period, server_corrections

__all__ = ["processes"]  # the fixture, shared with the restart test

SPEED = 120.0
"""A minute candle every 0.5 wall s; 0.3 s of latency is 36 sim s, within one period."""
SEED = 5
TOKEN = "e2e-proxy-token"
DEADLINE_S = 60.0


def _closed_stream(line: str) -> bool:
    record = json.loads(line)
    return bool(record["closed"] and record["source"] == "stream")


def _state(line: str) -> str | None:
    """The health state a stderr line announces ("monitor: 2026-… LIVE …"), else None."""
    parts = line.split()
    return parts[2] if line.startswith("monitor: 20") and len(parts) > 2 else None


def test_stream_through_latency_reset_and_blackhole_matches_the_sim(
    tmp_path: Path, processes: list[subprocess.Popen[str]], record_property: Callable[[str, object], None]
) -> None:
    deadline = time.monotonic() + DEADLINE_S
    port = free_port()
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "TINKOFF_TOKEN_STRING": TOKEN,
        # In sim seconds (--sim-speed): an unanswered attempt ends after 0.5 wall s, 1 s of
        # silence is stale. The defaults (20 s, 45 s) would be 0.17 and 0.37 wall s at 120x.
        "MONITOR_CONNECTION__CONNECT_TIMEOUT_S": "60",
        "MONITOR_FEED__STALE_AFTER_S": "120",
        "MONITOR_FEED__HISTORY_CANDLES": "20",
    }
    env.pop("MONITOR_CONFIG_FILE", None)
    sim_args = ["sim", "--port", str(port), "--speed", str(int(SPEED)), "--seed", str(SEED), "--token", TOKEN]
    sim = start(sim_args, env)
    processes.append(sim)
    Lines(sim.stdout).wait_for(lambda line: "listening on" in line, deadline, "the sim to listen")  # type: ignore[arg-type]

    with FaultProxy(f"127.0.0.1:{port}") as proxy:
        stream = start(
            [
                "stream", "SBER_TQBR", "--interval", "1m", "--json",
                "--endpoint", proxy.address, "--plaintext", "--sim-speed", str(int(SPEED)),
                "--log-file", str(tmp_path / "stream.log"),
            ],
            env,
        )  # fmt: skip
        processes.append(stream)
        out, err = Lines(stream.stdout), Lines(stream.stderr)  # type: ignore[arg-type]

        def closes(count: int, what: str) -> None:
            for _ in range(count):
                out.wait_for(_closed_stream, deadline, what)

        def state(name: str) -> None:
            err.wait_for(lambda line: _state(line) == name, deadline, name)

        state("LIVE")
        closes(3, "closed candles before any fault")
        proxy.set_latency(0.3, jitter=0.05)
        closes(3, "closed candles under 0.3 s of latency")
        proxy.set_latency(0.0)
        proxy.reset()
        state("RECONNECTING")
        state("LIVE")
        closes(2, "closed candles after the reset")
        proxy.blackhole()
        state("RECONNECTING")  # STALE first (stale_after), then the reconnect on the dead link
        proxy.restore()
        state("LIVE")
        closes(4, "closed candles after the blackhole")

        stream.terminate()
        assert stream.wait(max(1.0, deadline - time.monotonic())) == 0
    out.drain(5)
    err.drain(5)
    assert not any("Traceback" in line for line in err.all), err.all
    states = [s for line in err.all if (s := _state(line))]
    assert "STALE" in states, states  # the blackhole was detected by silence, the socket held open

    records: list[dict[str, Any]] = [json.loads(line) for line in out.all if line.strip()]
    closed = [r for r in records if r["closed"]]
    assert all(r["instrument"] == "SBER_TQBR" and r["uid"] == SBER_UID for r in closed)
    # The newest line per period is its final value (later lines are corrections).
    final = {_epoch(r["time"]): r for r in closed}
    truth = SimServer(SimConfig(seed=SEED, speed=SPEED))  # same seed and clock: the same market
    periods = sorted(final)
    history = truth.history(SBER_UID, Interval.M1, periods[0], periods[-1] + 60)
    missing = sorted({c.time for c in history} - set(periods))
    extra = sorted(set(periods) - {c.time for c in history})
    assert not missing and not extra, f"missing {missing}, not in the market {extra}"
    # The newest two periods may be corrected after the stream stopped: the others are final.
    for candle in history[:-2]:
        record = final[candle.time]
        got = (record["open"], record["high"], record["low"], record["close"], record["volume"])
        assert got == (candle.open, candle.high, candle.low, candle.close, candle.volume), record
    firsts = [r["time"] for r in closed if not r.get("correction")]
    assert len(firsts) == len(set(firsts)), "a period was printed closed twice without being a correction"
    # Closed is final: a period printed closed more than once is one the server itself corrected.
    counts = closed_lines_per_period(closed)
    again = {_epoch(when) for (_, when), count in counts.items() if count > 1}
    corrected = server_corrections(truth, SeriesKey(SBER_UID, Interval.M1), again)
    assert again <= corrected, (
        f"printed closed again without a server correction: {sorted(again - corrected)}"
    )
    record_property("closed_lines_per_period_max", max(counts.values()))

"""`monitor` in tmux and `monitor stream --json` on one sim: a rule just above the price fires in both."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.e2e import tmuxkit as kit

pytestmark = pytest.mark.e2e

SPEED = 60
SEED = 7
TOKEN = "e2e-alerts-token"
DEADLINE_S = 90.0
STEP = 0.01
"""SBER's price step."""
AHEAD_S = (5 * 60, 60 * 60)
"""The sim seconds after the probe in which the level is crossed again and again: the TUI and the
stream start within the first five (five wall seconds at SPEED), the test ends within the hour."""
MARK = "⚑"


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        kit.stop(proc)


def start_stream(
    args: list[str], env: Mapping[str, str], processes: list[subprocess.Popen[str]]
) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "stream", "--json", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=dict(env),
    )
    processes.append(proc)
    return proc


def read_until(
    proc: subprocess.Popen[str], found: Callable[[dict[str, object]], bool], deadline: float, what: str
) -> dict[str, object]:
    """Reads NDJSON lines from `proc` until one satisfies `found`; fails at `deadline`."""
    assert proc.stdout is not None
    fd, pending = proc.stdout.fileno(), b""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the stream ended (status {proc.returncode}) before {what}")
        # os.read on the raw fd: the text wrapper's buffering would hide a line select already saw.
        if not select.select([fd], [], [], kit.POLL_S)[0]:
            continue
        pending += os.read(fd, 65536)
        *lines, pending = pending.split(b"\n")
        for line in lines:
            record: dict[str, object] = json.loads(line)
            if found(record):
                return record
    pytest.fail(f"timed out waiting for {what}")


def live_candle(port: int, watchlist: Path, env: Mapping[str, str], deadline: float) -> dict[str, object]:
    """SBER's current candle, from a short `monitor stream --json` (the first live one)."""
    probes: list[subprocess.Popen[str]] = []
    args = ["--endpoint", f"127.0.0.1:{port}", "--plaintext", "--sim-speed", str(SPEED)]
    probe = start_stream([*args, "--watchlist", str(watchlist), "SBER_TQBR"], env, probes)
    try:
        record = read_until(probe, lambda r: r.get("source") == "stream", deadline, "a live candle")
    finally:
        kit.stop(probe)
    return record


def level_just_above(candle: Mapping[str, object]) -> float:
    """The nearest level a few steps above the live price (below, if the price only falls) that the
    sim's deterministic path crosses in at least five minute candles soon after: both clients see
    it cross, whenever in those minutes each one starts."""
    from datetime import datetime

    from monitor.market import Interval
    from monitor.sim import SimConfig, SimServer

    uid, close, at = str(candle["uid"]), candle["close"], str(candle["time"])
    assert isinstance(close, float | int)
    start = int(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp())
    sim = SimServer(SimConfig(tokens=(TOKEN,), seed=SEED, speed=SPEED))  # the same market, not served
    path = sim.history(uid, Interval.M1, start + AHEAD_S[0], start + AHEAD_S[1], as_of=start + 86_400)
    # Just above; when the next hour only falls, just below (`crosses` fires either way).
    for steps in (*range(2, 200), *range(-2, -200, -1)):
        level = round(float(close) + steps * STEP, 2)
        if sum(c.low < level < c.high for c in path) >= 5:
            return float(level)
    pytest.fail(f"the sim's price stays away from {close} for an hour after {at}")


def test_an_alert_fires_in_the_tui_and_in_the_stream(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    kit.require_tmux()
    deadline = time.monotonic() + DEADLINE_S
    env = kit.isolated_env(tmp_path, TOKEN)
    port = kit.free_port()
    sim_args = ["--port", str(port), "--speed", str(SPEED), "--seed", str(SEED), "--token", TOKEN]
    processes.append(kit.start_sim(sim_args, env, deadline))
    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text(kit.WATCHLIST, encoding="utf-8")
    level = level_just_above(live_candle(port, watchlist, env, deadline))
    # `crosses`: fires on the first crossing of the level each client sees, whichever side it starts.
    rule = f'alerts = [{{ instrument = "SBER_TQBR", when = "price crosses {level}", note = "e2e" }}]\n'
    watchlist.write_text(kit.WATCHLIST + rule, encoding="utf-8")
    rule_id = f"SBER_TQBR-price-crosses-{level:g}"

    connection = ["--endpoint", f"127.0.0.1:{port}", "--plaintext", "--sim-speed", str(SPEED)]
    with kit.tmux_session(env) as tmux:
        tmux.start([*connection, "--watchlist", str(watchlist), "--log-file", str(tmp_path / "tui.log")])
        stream = start_stream([*connection, "--watchlist", str(watchlist), "SBER_TQBR"], env, processes)

        # The toast's title and body (value, time and note); both in one condition, since a capture
        # may land while the terminal is half-way through drawing the frame that shows them.
        tmux.wait(lambda s: f"price crosses {level:g}" in s and "— e2e" in s, deadline, "the alert's toast")
        tmux.wait(lambda s: f"{MARK} " in panel_title(s), deadline, "the panel mark")
        tmux.wait(lambda s: MARK in sidebar_row(s), deadline, "the watchlist row mark")

        alert = read_until(stream, lambda r: r.get("event") == "alert", deadline, "the stream's alert")
        assert alert["rule"] == rule_id and alert["instrument"] == "SBER_TQBR"
        assert alert["when"] == f"price crosses {level:g}" and alert["note"] == "e2e"
        assert alert["offline"] is False
        value = alert["value"]
        assert isinstance(value, float | int) and abs(float(value) - level) < 1.0  # it crossed here

        tmux.send("L")

        def log_lines(screen: str) -> list[str]:
            return [line for line in screen.splitlines() if f"SBER_TQBR price crosses {level:g}" in line]

        # (the whole log drawn: a capture may land half-way through a frame)
        screen = tmux.wait(
            lambda s: "Fired this run" in s and any("fired 1" in line for line in log_lines(s)),
            deadline,
            "the alert log",
        )
        fired = log_lines(screen)
        assert len(fired) >= 2, f"the log lists the fire and the rule:\n{screen}"  # the fire, the rule
        assert any("e2e" in line and "fired 1" not in line for line in fired)
        assert any("fired 1" in line for line in fired)
        tmux.send("Escape")
        tmux.wait(lambda s: "Fired this run" not in s, deadline, "the alert log to close")
        tmux.wait(lambda s: MARK not in panel_title(s) + sidebar_row(s), deadline, "the marks to go (seen)")

        tmux.send("q")
        screen = tmux.wait(lambda s: kit.exit_status(s) is not None, deadline, "the exit")
        assert kit.exit_status(screen) == 0
        assert "Traceback" not in tmux.history()
    assert "e2e watchlist (this comment must survive)" in watchlist.read_text(encoding="utf-8")


def panel_title(screen: str) -> str:
    """What comes before `SBER 1m · ` in the panel's title (the part after the sidebar's border)."""
    line = next((line for line in screen.splitlines() if "SBER 1m · " in line), "")
    return line.split("SBER 1m · ")[0].split("││")[-1]


def sidebar_row(screen: str) -> str:
    """SBER's watchlist row."""
    line = next((line for line in screen.splitlines() if "● SBER " in line), "")
    return line.split("││")[0]

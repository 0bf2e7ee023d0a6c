"""Start-up budget: the real `monitor` command in tmux until a LIVE badge and candle glyphs show."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.perf.harness import Result, median
from tests.perf.procs import child_env

POLL_S = 0.02
TIMEOUT_S = 20.0
CANDLE = "█"


def _monitor_command() -> str:
    found = Path(sys.executable).with_name("monitor")
    return str(found) if found.exists() else f"{sys.executable} -m monitor"


def once(socket: str) -> float:
    """Seconds from launching `monitor` to the first screen with a LIVE badge and a candle."""
    with tempfile.TemporaryDirectory(prefix="monitor-perf-") as tmp:
        env = child_env(
            XDG_CONFIG_HOME=os.path.join(tmp, "config"),
            XDG_STATE_HOME=os.path.join(tmp, "state"),
            TERM="xterm-256color",
        )
        env.pop("MONITOR_CONFIG_FILE", None)
        env.pop("TMUX", None)  # a tmux inside tmux refuses to start otherwise
        tmux = ["tmux", "-L", socket]
        start = time.perf_counter()
        subprocess.run(
            [*tmux, "new-session", "-d", "-s", "perf", "-x", "140", "-y", "40", _monitor_command()],
            env=env,
            check=True,
        )
        try:
            while time.perf_counter() - start < TIMEOUT_S:
                screen = subprocess.run(
                    [*tmux, "capture-pane", "-p", "-t", "perf"], capture_output=True, text=True, env=env
                ).stdout
                if "LIVE" in screen and CANDLE in screen:
                    return time.perf_counter() - start
                time.sleep(POLL_S)
            raise RuntimeError(f"no LIVE candle within {TIMEOUT_S:g}s; screen:\n{screen}")
        finally:
            # Our own tmux server (-L): killing it ends `monitor` and nothing else.
            subprocess.run([*tmux, "kill-server"], capture_output=True, env=env)


def run(quick: bool) -> list[Result]:
    if shutil.which("tmux") is None:
        return [Result("startup: monitor → first LIVE candle", float("nan"), "s", "<= 2 s", False,
                       {"error": "tmux not installed"})]  # fmt: skip
    runs = 3 if quick else 5
    # A fresh tmux server (socket) per run: a new session on a server still shutting down fails.
    socket = f"monitor-perf-{os.getpid()}"
    once(f"{socket}-warm")  # warm-up: the first start pays for cold .pyc and page-cache reads
    seconds = [once(f"{socket}-{n}") for n in range(runs)]
    figure = median(seconds)
    return [
        Result(
            "startup: monitor → first LIVE candle",
            figure,
            "s",
            "<= 2 s",
            figure <= 2.0,
            {"min_s": min(seconds), "max_s": max(seconds), "runs": float(runs)},
        )
    ]

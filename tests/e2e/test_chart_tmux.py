"""The real `monitor` in tmux against `monitor sim`: → shows the readout, ← scrolls a day back, End: live."""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path

import pytest

from tests.e2e.tmuxkit import Tmux, free_port, isolated_env, require_tmux, start_sim, stop, tmux_session

pytestmark = pytest.mark.e2e

SPEED = 60
TOKEN = "e2e-chart-token"
DEADLINE_S = 60.0
PRESSES = 10
"""← keys sent at once (one tmux call): the app takes them as a burst."""
WATCHLIST = """\
# e2e chart watchlist
active = "main"

[[lists]]
name = "main"
layout = "1"
interval = "1h"
instruments = ["SBER_TQBR"]
"""
DAY_LABEL = re.compile(r"(?<![\d.])(\d\d)\.(\d\d)(?![\d.])")
REFERENCE_YEAR = 2000
"""The year given to the live view's newest day label (a leap year: 29.02 parses)."""
READOUT = re.compile(r"\bO [\d ]+\.\d+ .*\bH [\d ]+\.\d+")


def axis_line(screen: str) -> str:
    """The time axis: the lowest line of the panel with day labels (DD.MM)."""
    lines = [line for line in screen.splitlines() if DAY_LABEL.search(line)]
    return lines[-1] if lines else ""


def first_day(screen: str, newest: date | None = None) -> date | None:
    """The leftmost day label of the time axis (the oldest day the chart shows).

    Labels carry no year and the simulator's clock may sit near New Year: a label later in the
    year than `newest` (the live view's last day) is of the year before.
    """
    found = DAY_LABEL.search(axis_line(screen))
    if found is None:
        return None
    day = date(REFERENCE_YEAR, int(found.group(2)), int(found.group(1)))
    if newest is not None and (day - newest).days > 180:
        day = day.replace(year=REFERENCE_YEAR - 1)
    return day


def last_day(screen: str) -> date | None:
    labels = DAY_LABEL.findall(axis_line(screen))
    return date(REFERENCE_YEAR, int(labels[-1][1]), int(labels[-1][0])) if labels else None


def header(screen: str) -> str:
    lines = [line for line in screen.splitlines() if "SBER 1h · " in line]
    return lines[0] if lines else ""


def test_cursor_history_and_live_edge_in_tmux(tmp_path: Path) -> None:
    require_tmux()
    deadline = time.monotonic() + DEADLINE_S
    env = isolated_env(tmp_path, TOKEN)
    port = free_port()
    sim = start_sim(["--port", str(port), "--speed", str(SPEED), "--token", TOKEN], env, deadline)
    try:
        drive(tmp_path, env, port, deadline)
    finally:
        stop(sim)


def drive(tmp_path: Path, env: dict[str, str], port: int, deadline: float) -> None:
    """→, ← until an earlier day, End: against the simulator on `port`."""
    watchlist = tmp_path / "watchlist.toml"
    watchlist.write_text(WATCHLIST, encoding="utf-8")
    args = ["--endpoint", f"127.0.0.1:{port}", "--plaintext", "--sim-speed", str(SPEED)]
    args += ["--watchlist", str(watchlist), "--log-file", str(tmp_path / "monitor.log")]

    with tmux_session(env) as tmux:
        tmux.start(args)
        live = tmux.wait(lambda s: last_day(s) is not None, deadline, "the chart with its time axis")
        newest = last_day(live)
        live_day = first_day(live, newest)
        assert live_day is not None and "HISTORY" not in header(live)

        tmux.send("Right")
        tmux.wait(lambda s: READOUT.search(s) is not None, deadline, "the readout of the newest candle")

        back = scroll_back(tmux, live_day, newest, deadline)
        assert "HISTORY −" in header(back)
        assert READOUT.search(back) is not None, "the readout stays on while looking back"

        tmux.send("End")
        again = tmux.wait(lambda s: "HISTORY" not in header(s), deadline, "the live edge after End")
        assert READOUT.search(again) is None, "End turns the cursor off"
        shown = first_day(again, newest)
        assert shown is not None and shown >= live_day, "the view starts where the live one did (or later)"
        tmux.send("q")
        tmux.wait(lambda s: "__MONITOR_EXIT__=0" in s, deadline, "the exit")
        assert "Traceback" not in tmux.history()


def scroll_back(tmux: Tmux, live_day: date, newest: date | None, deadline: float) -> str:
    """Presses ← in bursts until the time axis starts on a day before the live view's first day."""
    while True:
        tmux.send(*["Left"] * PRESSES)
        screen = tmux.screen()
        shown = first_day(screen, newest)
        if shown is not None and shown < live_day:
            return screen
        if time.monotonic() > deadline:
            pytest.fail(f"← never reached a day before {live_day}; screen:\n{screen}")

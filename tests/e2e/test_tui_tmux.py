"""The real `monitor` in tmux against a `monitor sim` that is killed and restarted: keys, status, backfill."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.e2e.tmuxkit import (
    Tmux,
    exit_status,
    free_port,
    isolated_env,
    require_tmux,
    start_sim,
    stop,
    tmux_session,
    write_watchlist,
)

pytestmark = pytest.mark.e2e

SPEED = 120  # one wall second is two 1m candles: a two-second outage leaves a gap of several candles
SEED = 5
TOKEN = "e2e-tui-token"
DEADLINE_S = 55.0
BACKFILLED = "━"  # monitor.ui.render.cells.BACKFILL: the time-axis mark under backfilled candles
CLOCK = re.compile(r"(\d\d):(\d\d):(\d\d) (exchange|local|utc)")


def sim_seconds(status: str) -> int | None:
    """The app's clock (sim time at SPEED) on the status line, as seconds of the day."""
    found = CLOCK.search(status)
    if found is None:
        return None
    hours, minutes, seconds = (int(part) for part in found.groups()[:3])
    return hours * 3600 + minutes * 60 + seconds


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        stop(proc)


def test_tui_in_tmux_survives_sim_restart(tmp_path: Path, processes: list[subprocess.Popen[str]]) -> None:
    require_tmux()
    deadline = time.monotonic() + DEADLINE_S
    env = isolated_env(tmp_path, TOKEN)
    port = free_port()
    sim_args = ["--port", str(port), "--speed", str(SPEED), "--seed", str(SEED), "--token", TOKEN]
    processes.append(start_sim(sim_args, env, deadline))
    watchlist = write_watchlist(tmp_path)
    args = ["--endpoint", f"127.0.0.1:{port}", "--plaintext", "--sim-speed", str(SPEED)]
    args += ["--watchlist", str(watchlist), "--log-file", str(tmp_path / "monitor.log")]

    with tmux_session(env) as tmux:
        tmux.start(args)
        live(tmux, deadline, "the first LIVE")
        tmux.wait(lambda s: "SBER 1m · " in s, deadline, "the SBER panel")
        assert BACKFILLED not in tmux.screen(), "nothing was backfilled yet"
        exercise_keys(tmux, deadline)

        # The outage: SIGKILL, then wait until the app's clock has moved several candles on.
        processes[0].kill()
        processes[0].wait(5)
        status = tmux.wait(lambda s: "RECONNECTING" in last_line(s), deadline, "RECONNECTING")
        killed_at = sim_seconds(last_line(status))
        assert killed_at is not None
        tmux.wait(partial(outage_over, killed_at), deadline, "four sim minutes of outage")
        processes.append(start_sim(sim_args, env, deadline))
        live(tmux, deadline, "LIVE after the restart")
        screen = tmux.wait(lambda s: BACKFILLED in s, deadline, "the backfilled mark on the time axis")
        assert "reconnects 0" not in last_line(screen)

        tmux.send("q")
        screen = tmux.wait(lambda s: exit_status(s) is not None, deadline, "the exit")
        assert exit_status(screen) == 0
        assert not tmux.alternate_screen(), "the terminal was not restored"
        assert "Traceback" not in tmux.history()
    assert "this comment must survive" in watchlist.read_text(encoding="utf-8")


def outage_over(killed_at: int, screen: str) -> bool:
    """The app's clock is four sim minutes past the kill: the gap spans several 1m candles."""
    now = sim_seconds(last_line(screen))
    return now is not None and (now - killed_at) % 86_400 >= 4 * 60


def last_line(screen: str) -> str:
    lines = [line for line in screen.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def live(tmux: Tmux, deadline: float, what: str) -> str:
    return tmux.wait(lambda s: last_line(s).startswith(" ● LIVE"), deadline, what)


def exercise_keys(tmux: Tmux, deadline: float) -> None:
    """Layout, interval, help and time zone keys change what the screen shows."""
    tmux.send("l")  # 1 → 1x2: both instruments get a panel
    tmux.wait(lambda s: "SBER 1m · " in s and "GAZP 1m · " in s, deadline, "the 1x2 layout")
    tmux.send("i")
    tmux.wait(lambda s: "SBER 2m · " in s, deadline, "SBER on 2m after i")
    tmux.send("I")
    tmux.wait(lambda s: "SBER 1m · " in s, deadline, "SBER back on 1m after I")
    tmux.send("?")
    tmux.wait(lambda s: "Cycle the panel layout" in s, deadline, "the help screen")
    tmux.send("Escape")
    tmux.wait(lambda s: "Cycle the panel layout" not in s, deadline, "the help screen to close")
    tmux.send("t")  # exchange → local
    tmux.wait(lambda s: last_line(s).rstrip().endswith("local  ? help"), deadline, "the local time zone")

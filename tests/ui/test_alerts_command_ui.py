"""Pilot tests of the alert command in the app: run per fire, reported once, a hang never freezes the UI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from monitor.feed.testing import FakeFeed, ManualClock
from tests.alerts.test_command import recorder
from tests.ui.alertkit import SBER, alerts_setup, cross, delivery, running, toasts
from tests.ui.uikit import settle, wait_for

SLOW = 3000
"""Rounds of 10 ms a subprocess may take to start on a busy machine (a bound, not a sleep)."""


@pytest.fixture
def alerts_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return alerts_setup(tmp_path, monkeypatch)


async def test_a_fire_runs_the_command_with_title_and_body(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock, tmp_path: Path
) -> None:
    template, out = recorder(tmp_path)
    async with running(alerts_file, feed, clock, command=template, bell=False) as (pilot, app):
        await cross(pilot, app, feed, 106.5)
        await wait_for(pilot, out.exists, rounds=SLOW)
        argv = json.loads(out.read_text(encoding="utf-8"))["argv"]
        fired = delivery(app).engine.recent[-1]
        assert argv == [f"--title={fired.title}", fired.body, "{other}"]
        assert argv[0] == "--title=SBER_TQBR price above 105" and "breakout" in argv[1]


async def test_a_command_given_as_one_string_is_split_without_a_shell(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock, tmp_path: Path
) -> None:
    template, out = recorder(tmp_path)
    line = " ".join(f'"{item}"' for item in template)
    async with running(alerts_file, feed, clock, command=line, bell=False) as (pilot, app):
        await cross(pilot, app, feed)
        await wait_for(pilot, out.exists, rounds=SLOW)
        assert json.loads(out.read_text(encoding="utf-8"))["argv"][0] == "--title=SBER_TQBR price above 105"


async def test_a_failing_command_is_reported_once_across_fires(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock
) -> None:
    failing = [sys.executable, "-c", "import sys; sys.exit(2)"]
    async with running(alerts_file, feed, clock, command=failing, bell=False) as (pilot, app):
        await cross(pilot, app, feed)
        command = delivery(app).command
        assert command is not None
        await wait_for(pilot, lambda: command.broken is not None, rounds=SLOW)
        feed.set_price("GAZP_TQBR", 95.0)
        feed.set_price("GAZP_TQBR", 89.0)  # a second alert fires: the command is not tried again
        await wait_for(pilot, lambda: len(delivery(app).engine.recent) == 2)
        await command.wait()
        await pilot.pause()
        off = [line for line in toasts(app) if "Alert command off" in line]
        assert len(off) == 1 and "exited with status 2" in off[0]
        assert sum("GAZP_TQBR price below 90" in line for line in toasts(app)) == 1  # toasts go on


async def test_a_hanging_command_is_killed_and_the_ui_keeps_running(
    alerts_file: Path, feed: FakeFeed, clock: ManualClock
) -> None:
    hanging = [sys.executable, "-c", "import time; time.sleep(600)"]
    settings = {"command": hanging, "command_timeout_s": 1.0, "bell": False}
    async with running(alerts_file, feed, clock, **settings) as (pilot, app):
        await cross(pilot, app, feed)
        command = delivery(app).command
        assert command is not None and command.broken is None
        # While it hangs, keys and the feed are served.
        await pilot.press("j")
        assert app.model.selected == 1
        feed.set_price(SBER, 110.0)
        await settle(pilot, app)
        assert app.sidebar.rows[0].price == "110.00"
        await wait_for(pilot, lambda: command.broken is not None, rounds=SLOW)
        await pilot.pause()
        assert "did not finish within 1 s" in (command.broken or "")
        assert any("Alert command off" in line and "was stopped" in line for line in toasts(app))
        await pilot.press("k")
        assert app.model.selected == 0

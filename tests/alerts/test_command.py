"""The desktop notification command: substituted argv, no shell, reported once, killed at the timeout."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from monitor.alerts.command import AlertCommand, command_argv

RECORDER = """\
import json, os, sys
out = sys.argv[1]
with open(out + ".tmp", "w", encoding="utf-8") as f:
    json.dump({"argv": sys.argv[2:], "pid": os.getpid()}, f)
os.replace(out + ".tmp", out)
"""


def recorder(tmp_path: Path) -> tuple[list[str], Path]:
    """A command that writes its argv (after the output path) to a file; (argv template, that file)."""
    script = tmp_path / "notify.py"
    script.write_text(RECORDER, encoding="utf-8")
    out = tmp_path / "argv.json"
    return [sys.executable, str(script), str(out), "--title={title}", "{body}", "{other}"], out


def assert_gone(pid: int) -> None:
    """`pid` no longer exists (killed and reaped: not even a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    raise AssertionError(f"process {pid} still runs")


def test_argv_items_get_title_and_body_and_nothing_else() -> None:
    argv = command_argv(["notify-send", "{title}", "x {body} y", "{unknown}", "$HOME"], "T; rm", "B `id`")
    assert argv == ["notify-send", "T; rm", "x B `id` y", "{unknown}", "$HOME"]


async def test_the_command_runs_with_substituted_args_without_a_shell(tmp_path: Path) -> None:
    template, out = recorder(tmp_path)
    reports: list[str] = []
    command = AlertCommand(template, 10.0, reports.append)
    command.run("SBER_TQBR price above 354.5", "356.1 at 2026-12-03T10:15:00Z — a $(touch pwned) note")
    await command.wait()
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written["argv"] == [
        "--title=SBER_TQBR price above 354.5",
        "356.1 at 2026-12-03T10:15:00Z — a $(touch pwned) note",
        "{other}",
    ]
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    assert reports == [] and command.broken is None


async def test_a_failing_command_is_reported_once_and_not_run_again(tmp_path: Path) -> None:
    marker = tmp_path / "runs"
    code = (
        f"open({str(marker)!r}, 'a').write('x'); import sys; sys.stderr.write('no display\\n'); sys.exit(3)"
    )
    reports: list[str] = []
    command = AlertCommand([sys.executable, "-c", code], 10.0, reports.append)
    command.run("a", "b")
    command.run("a", "b")  # both in flight when it fails: still one report
    await command.wait()
    assert len(reports) == 1 and "exited with status 3" in reports[0] and "no display" in reports[0]
    runs = marker.read_text(encoding="utf-8")
    command.run("a", "b")
    await command.wait()
    assert marker.read_text(encoding="utf-8") == runs  # not run again
    assert len(reports) == 1


async def test_a_missing_command_is_reported_once(tmp_path: Path) -> None:
    reports: list[str] = []
    command = AlertCommand([str(tmp_path / "no-such-notifier"), "{title}"], 10.0, reports.append)
    for _ in range(3):
        command.run("a", "b")
        await command.wait()
    assert len(reports) == 1 and "cannot run" in reports[0] and "no-such-notifier" in reports[0]


def hanging(timeout_s: float, tmp_path: Path) -> tuple[AlertCommand, list[str], Path]:
    """A command that writes its pid to a file, then sleeps ten minutes: (it, its reports, the file)."""
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)"
    reports: list[str] = []
    return AlertCommand([sys.executable, "-c", code], timeout_s, reports.append), reports, pid_file


async def test_a_hanging_command_is_killed_at_the_timeout(tmp_path: Path) -> None:
    command, reports, pid_file = hanging(0.5, tmp_path)
    command.run("a", "b")
    await command.wait()
    assert len(reports) == 1 and "did not finish within 0.5 s" in reports[0]
    if pid_file.exists():  # it got as far as starting: it is gone now (killed and reaped)
        assert_gone(int(pid_file.read_text(encoding="utf-8")))


async def test_stopping_kills_a_running_command_and_reaps_it(tmp_path: Path) -> None:
    command, reports, pid_file = hanging(60.0, tmp_path)
    command.run("a", "b")
    while not pid_file.exists() or not pid_file.read_text(encoding="utf-8"):
        await asyncio.sleep(0.01)  # polling a condition: the child is starting
    pid = int(pid_file.read_text(encoding="utf-8"))
    await command.stop()
    assert_gone(pid)
    assert reports == []  # quitting is not a failure of the command

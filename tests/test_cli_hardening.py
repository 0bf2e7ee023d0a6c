"""Every command refuses bad settings, flags and files the same way: one line, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import monitor.cli as cli

REPO = Path(__file__).resolve().parent.parent
COMMANDS = [["tui"], ["check"], ["stream", "SBER_TQBR"], ["chart", "SBER_TQBR"], ["sim"]]


def monitor(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MONITOR_") and not k.endswith("_TOKEN_STRING")
    }
    base.update(
        XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_STATE_HOME=str(tmp_path / "state"), PYTHONPATH=str(REPO)
    )
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=60,
    )


pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_command_refuses_bad_ui_settings(tmp_path: Path, command: list[str]) -> None:
    """`monitor check` accepted a colour the TUI crashed on 4 s later; now every command refuses it."""
    config = tmp_path / "monitor.toml"
    config.write_text('[ui]\nup_color = "not-a-colour"\n[ui.keys]\npause = "q"\n')
    run = monitor(command, tmp_path, MONITOR_CONFIG_FILE=str(config))
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith(f"monitor: error: {config}:2: ui.up_color: ")
    assert f"; {config}:4: ui.keys.pause: key 'q' is already bound to quit" in run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


def test_a_broken_watchlist_exits_2(tmp_path: Path) -> None:
    watchlist = tmp_path / "w.toml"
    watchlist.write_text('[[lists]]\nname = "x"\ninstruments = ["SBER_TQBR"\n')
    run = monitor(["--watchlist", str(watchlist)], tmp_path)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith(f"monitor: error: {watchlist}:") and "Traceback" not in run.stderr


@pytest.mark.timeout(30)
def test_a_named_config_must_be_a_regular_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path, reason in (
        (tmp_path / "missing.toml", f"--config {tmp_path / 'missing.toml'}: no such settings file"),
        (tmp_path, f"cannot read settings file {tmp_path}: not a regular file (a directory)"),
        (fifo, f"cannot read settings file {fifo}: not a regular file (a FIFO)"),
    ):
        assert cli.main(["check", "--config", str(path)]) == 2
        assert capsys.readouterr().err == f"monitor: error: {reason}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["stream", "SBER_TQBR", "--sim-speed", "nan"], "argument --sim-speed: must be above 0"),
        (["tui", "--sim-speed", "inf"], "argument --sim-speed: must be above 0"),
        (["check", "--sim-speed", "0"], "argument --sim-speed: must be above 0"),
        (["chart", "X", "--sim-speed", "1e9"], "argument --sim-speed: must be above 0 and at most 100000"),
        (["sim", "--speed", "nan"], "argument --speed: must be above 0"),
        (["sim", "--speed", "-1"], "argument --speed: must be above 0"),
        (["sim", "--port", "70000"], "argument --port: 70000 is outside 0..65535"),
        (["sim", "--fault", "stall@nan"], "fault times must be finite and positive"),
        (["sim", "--fault", "stall@60:inf"], "fault times must be finite and positive"),
        (["chart", "X", "--width", "99999999"], "argument --width: must be 1..2000"),
        (["chart", "X", "--count", "10000000000"], "argument --count: must be 1..5000"),
    ],
)
def test_numeric_flags_have_bounds(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(args) == 2
    assert message in capsys.readouterr().err


def test_explicit_endpoint_without_a_token_is_an_error_for_every_connecting_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for command in (["tui"], ["check"], ["stream", "SBER_TQBR"], ["chart", "SBER_TQBR"]):
        assert cli.main([*command, "--endpoint", "127.0.0.1:49999", "--plaintext"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("monitor: error: no token for 127.0.0.1:49999: set TINKOFF_TOKEN_STRING")
        assert "`monitor` with no endpoint runs the built-in demo" in err

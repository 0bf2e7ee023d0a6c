"""The CLI: lazy command modules, default command, one-line errors and exit codes."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import monitor.cli as cli
from monitor.cli.common import add_connection_arguments, cli_overrides, settings_from_args

FAKE = '''
"""A command used by the CLI tests."""
import argparse
from collections.abc import Iterator

from monitor.cli.common import add_connection_arguments


def add_parser(subparsers):
    parser = subparsers.add_parser("{name}")
    add_connection_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    {body}
'''

pytestmark = pytest.mark.usefixtures("clean_env", "restore_logging")


@pytest.fixture
def commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Fake command modules: ok, boom (raises), interrupt (Ctrl+C)."""
    package = tmp_path / "fakecmds"
    package.mkdir()
    (package / "__init__.py").write_text("")
    bodies = {
        "tui": "print('tui ran', args.endpoint); return 0",
        "boom": "raise RuntimeError('kaput ' + 'Bearer t.' + 'x' * 45)",
        "interrupt": "raise KeyboardInterrupt",
    }
    for name, body in bodies.items():
        (package / f"{name}.py").write_text(FAKE.format(name=name, body=body))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        cli, "COMMANDS", {name: importlib.import_module(f"fakecmds.{name}") for name in bodies}
    )
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("fakecmds")]:
        del sys.modules[name]


def test_default_command_is_tui(
    commands: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli.main([]) == 0
    assert capsys.readouterr().out == "tui ran None\n"
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", "t.token")
    assert cli.main(["--endpoint", "127.0.0.1:1"]) == 0
    assert capsys.readouterr().out == "tui ran 127.0.0.1:1\n"


def test_unexpected_error_is_one_line_and_logged(commands: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log_file = commands / "log.jsonl"
    assert cli.main(["boom", "--log-file", str(log_file)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("monitor: error: RuntimeError: kaput Bearer ***")
    assert "Traceback" not in err
    logged = log_file.read_text()
    assert "Traceback" in logged and "command_failed" in logged and "x" * 45 not in logged


def test_ctrl_c_exits_130_quietly(commands: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["interrupt", "--log-file", str(commands / "l")]) == 130
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_settings_error_exits_2_with_one_line(commands: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(
        ["tui", "--endpoint", "example.com:443", "--plaintext", "--log-file", str(commands / "l")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err == (
        "monitor: error: command line: connection: Value error, plaintext is only allowed for loopback "
        "endpoints (localhost, 127.0.0.0/8, ::1), not example.com\n"
    )


def test_usage_and_version(commands: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("monitor ")
    assert cli.main(["nonsense"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def test_real_parser_has_check() -> None:
    _, available = cli.build_parser()
    assert "check" in available


def test_cli_overrides_and_cached_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", "t.token")
    parser = argparse.ArgumentParser()
    add_connection_arguments(parser)
    args = parser.parse_args(
        [
            "--endpoint",
            "127.0.0.1:5",
            "--plaintext",
            "--watchlist",
            "w.toml",
            "--log-file",
            str(tmp_path / "l"),
        ]
    )
    assert cli_overrides(args) == {
        "connection": {"endpoint": "127.0.0.1:5", "plaintext": True},
        "watchlist": Path("w.toml"),
        "log": {"file": tmp_path / "l"},
    }
    assert cli_overrides(parser.parse_args([])) == {}
    first = settings_from_args(args)
    assert settings_from_args(args) is first
    assert first[0].connection.plaintext is True


def test_help_loads_neither_grpc_nor_textual() -> None:
    """`monitor --help` builds every command's parser; the heavy libraries wait for a command to run."""
    code = (
        "import contextlib, sys\n"
        "from monitor.cli import main\n"
        "with contextlib.redirect_stdout(None):\n"
        "    assert main(['--help']) == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'grpc', 'textual', 'plotext'}))\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30)
    assert run.stdout == "[]\n"

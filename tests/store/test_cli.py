"""`monitor history` and `monitor store` as a user runs them: demo mode, files, bad input, no traceback."""

from __future__ import annotations

import functools
import sqlite3
from pathlib import Path

import pytest

import monitor.cli as cli
from monitor.cli import main
from monitor.logging import configure_logging

FROM, TO = "2026-11-02", "2026-11-02T06:00"
"""Six hours of a Monday: 360 one-minute periods, long closed on the built-in simulator's clock."""


@pytest.fixture(autouse=True)
def homes(clean_env: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A clean environment, its config, state and data where the tests look: tmp_path/config…"""
    for kind in ("CONFIG", "STATE", "DATA"):
        monkeypatch.setenv(f"XDG_{kind}_HOME", str(tmp_path / kind.lower()))


@pytest.fixture(autouse=True)
def uncached_logging(monkeypatch: pytest.MonkeyPatch, restore_logging: None) -> None:
    """main() configures global logging, undone after each test (restore_logging), here uncached:
    a module's logger cached here would bypass other tests' capture_logs."""
    monkeypatch.setattr(cli, "configure_logging", functools.partial(configure_logging, cache=False))


def demo_store(tmp_path: Path) -> Path:
    return tmp_path / "data" / "monitor" / "demo-store.sqlite3"


def test_history_writes_csv_to_a_file_and_keeps_the_candles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sber.csv"
    assert main(["history", "SBER_TQBR", "--from", FROM, "--to", TO, "-o", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "time,open,high,low,close,volume,source"
    assert lines[1].startswith("2026-11-02T00:00:00Z,")
    assert len(lines) == 1 + 360
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "built-in simulator" in captured.err and "Traceback" not in captured.err
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".sber")] == []  # no temp file left
    # The demo's candles went to the demo store, never to the real one.
    assert demo_store(tmp_path).exists()
    assert not (tmp_path / "data" / "monitor" / "store.sqlite3").exists()
    assert main(["history", "SBER_TQBR", "--from", FROM, "--to", TO, "--format", "ndjson"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 360


def test_no_store_runs_without_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "SBER_TQBR", "--from", FROM, "--to", TO, "--no-store"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 361
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "2026-13-40"], "is not a date"),
        (["--from", "yesterday"], "is not a date"),
        (["--from", FROM, "--to", "2026-11-01"], "--to must be after --from"),
        (["--from", FROM, "--interval", "7m"], "unknown interval"),
        (["--from", FROM, "--format", "xml"], "invalid choice"),
    ],
)
def test_bad_input_is_one_clear_message_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "SBER_TQBR", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_an_unknown_instrument_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "NOPE_TQBR", "--from", FROM, "--to", TO]) == 2
    err = capsys.readouterr().err
    assert "NOPE_TQBR" in err and "not found" in err and "Traceback" not in err


def test_an_output_file_that_cannot_be_written_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing-dir" / "out.csv"
    assert main(["history", "SBER_TQBR", "--from", FROM, "--to", TO, "-o", str(target)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write {target}" in err and "Traceback" not in err


def test_store_info_and_prune(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["store", "--info", "--demo"]) == 0
    assert "no store at" in capsys.readouterr().out
    assert main(["history", "SBER_TQBR", "--from", FROM, "--to", TO, "-o", str(tmp_path / "x.csv")]) == 0
    assert main(["history", "SBER_TQBR", "--interval", "1d", "--from", "2026-10-01", "--to", "2026-11-01",
                 "-o", str(tmp_path / "y.csv")]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["store", "--info", "--demo"]) == 0
    info = capsys.readouterr().out
    assert "series      2" in info and "candles     391" in info and "ranges      2 complete" in info
    assert "1m             1         360" in info
    config = tmp_path / "config" / "monitor" / "monitor.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[store]\nretention_days = { "1m" = 1, "1d" = 0 }\n')
    assert main(["store", "--prune", "--demo"]) == 0
    assert "1m: deleted 360 candles older than 1 days" in capsys.readouterr().out
    assert main(["store", "--info", "--demo"]) == 0
    info = capsys.readouterr().out
    assert "candles     31" in info and "ranges      1 complete" in info


def test_store_info_on_a_newer_schema_says_so_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mine.sqlite3"
    assert main(["store", "--info", "--store", str(path)]) == 0  # nothing there yet
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA application_id = {0x4D4F4E53}")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    assert main(["store", "--info", "--store", str(path)]) == 1
    err = capsys.readouterr().err
    assert "newer" in err and "Traceback" not in err


def test_prune_while_another_process_holds_the_lock_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.store.opening as opening

    monkeypatch.setattr(opening, "BUSY_TIMEOUT_MS", 50)  # fail fast instead of waiting 5 s
    path = tmp_path / "busy.sqlite3"
    main(["store", "--info", "--store", str(path)])
    from monitor.store import CandleStore

    CandleStore.open(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert main(["store", "--prune", "--store", str(path)]) == 1
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert f"cannot prune {path}" in err and "lock" in err and "Traceback" not in err

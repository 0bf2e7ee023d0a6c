"""`monitor stream` (and the TUI's rules) on the candle store: a second run starts from it, --no-store
and --sim-speed keep it off, and an unusable store is said once while the candles still print."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import runstore
from monitor.cli.runstore import SIM_SPEED_OFF, RunStore, close_run_store, open_run_store
from monitor.cli.store import demo_path
from monitor.exits import EXIT_INTERRUPTED
from monitor.settings import Settings
from monitor.store import CandleStore
from tests.feed.test_stream_cli import run_until_ctrl_c, user_env
from tests.store.test_safety import read_only_dir

ROOT = Path(__file__).resolve().parents[1]
HISTORY = Settings().feed.history_candles
"""Candles of the initial history load (feed.history_candles, default)."""
RUN_TIMEOUT_S = 30.0


def history_in(lines: list[dict[str, Any]]) -> bool:
    """The initial history is printed (every line of it is a closed history candle)."""
    return sum(1 for line in lines if line["source"] == "backfill") >= HISTORY


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The child's environment: no token (the demo simulator at real speed), private directories."""
    return {**user_env(tmp_path), "PYTHONPATH": str(ROOT)}


def data_dir(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"])


def store_files(env: dict[str, str], tmp_path: Path) -> list[Path]:
    return sorted([*data_dir(env).rglob("*.sqlite3*"), *tmp_path.rglob("*.sqlite3*")])


def log_events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _logged(path: Path, event: str) -> bool:
    return path.exists() and any(f'"event": "{event}"' in line for line in path.read_text().splitlines())


def candle_rows(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT count(*) FROM candles").fetchone()[0])
    finally:
        conn.close()


def stream_once(
    env: dict[str, str], *flags: str, log: Path | None = None
) -> tuple[int, str, list[dict[str, Any]]]:
    """Streams until the history is printed (and, with `log`, its fetch is logged); then Ctrl+C:
    (the exit status, stderr, the candle lines)."""
    seen: list[dict[str, Any]] = []
    reached: list[bool] = []

    def enough(line: str) -> bool:
        seen.append(json.loads(line))
        if history_in(seen) and (log is None or _logged(log, "backfilled")):
            reached.append(True)
        return bool(reached)

    args = ["stream", "SBER_TQBR", "--json", *flags, *(("--log-file", str(log)) if log is not None else ())]
    lines, stderr, status = run_until_ctrl_c(args, env, enough, timeout=RUN_TIMEOUT_S)
    assert reached, f"stopped after {len(lines)} lines: {stderr[-500:]}"
    return status, stderr, seen


def test_a_second_run_prints_the_stored_history_before_fetching_only_the_rest(
    env: dict[str, str], tmp_path: Path
) -> None:
    given = tmp_path / "candles.sqlite3"
    status, stderr, _ = stream_once(env, "--store", str(given), log=tmp_path / "one.log")
    assert status == EXIT_INTERRUPTED and "Traceback" not in stderr and "store off" not in stderr
    stored = demo_path(given)  # the demo's candles live beside the named file, never in it
    assert not given.exists() and candle_rows(stored) >= HISTORY
    first = [e for e in log_events(tmp_path / "one.log") if e["event"] == "backfilled"]
    assert first[0]["candles"] >= HISTORY  # the cold start fetched the whole history

    status, stderr, lines = stream_once(env, "--store", str(given), log=tmp_path / "two.log")
    assert status == EXIT_INTERRUPTED and "Traceback" not in stderr
    events = [e for e in log_events(tmp_path / "two.log") if e["event"] in ("drawn_from_cache", "backfilled")]
    assert events[0]["event"] == "drawn_from_cache" and events[0]["candles"] >= HISTORY
    # The warm start fetched only the minutes since the first run (one small call), not the history.
    assert events[1]["event"] == "backfilled" and events[1]["candles"] <= 3
    history = [line["time"] for line in lines if line["source"] == "backfill"]
    assert history == sorted(history) and len(history) >= HISTORY


def test_the_default_store_is_under_the_data_directory(env: dict[str, str], tmp_path: Path) -> None:
    status, _, _ = stream_once(env)
    assert status == EXIT_INTERRUPTED
    assert [p.name for p in store_files(env, tmp_path)] == ["demo-store.sqlite3"]
    assert candle_rows(data_dir(env) / "monitor" / "demo-store.sqlite3") >= HISTORY


def test_no_store_creates_no_file(env: dict[str, str], tmp_path: Path) -> None:
    status, stderr, lines = stream_once(env, "--no-store")
    assert status == EXIT_INTERRUPTED and "store" not in stderr  # asked for: nothing to say
    assert store_files(env, tmp_path) == [] and history_in(lines)


def test_sim_speed_without_store_runs_without_one_and_says_why(env: dict[str, str], tmp_path: Path) -> None:
    status, stderr, lines = stream_once(env, "--sim-speed", "600")
    assert status == EXIT_INTERRUPTED and history_in(lines)
    assert store_files(env, tmp_path) == []
    assert stderr.count("store off") == 1 and f"monitor: {SIM_SPEED_OFF}\n" in stderr


def test_sim_speed_with_an_explicit_store_keeps_it(env: dict[str, str], tmp_path: Path) -> None:
    given = tmp_path / "fast.sqlite3"
    status, stderr, _ = stream_once(env, "--sim-speed", "600", "--store", str(given))
    assert status == EXIT_INTERRUPTED and "store off" not in stderr
    assert candle_rows(demo_path(given)) >= HISTORY


def _one_store_line(stderr: str) -> str:
    said = [line for line in stderr.splitlines() if "store" in line]
    assert len(said) == 1, said
    return said[0]


def test_a_read_only_store_directory_is_said_once_and_candles_print(
    env: dict[str, str], tmp_path: Path
) -> None:
    place = read_only_dir(tmp_path)
    status, stderr, lines = stream_once(env, "--store", str(place / "store.sqlite3"))
    assert status == EXIT_INTERRUPTED and "Traceback" not in stderr and history_in(lines)
    assert _one_store_line(stderr).startswith("monitor: store off: ")


def test_a_newer_schema_is_said_once_left_as_it_is_and_candles_print(
    env: dict[str, str], tmp_path: Path
) -> None:
    given = tmp_path / "newer.sqlite3"
    CandleStore.open(demo_path(given)).close()  # a store as a newer monitor leaves it (WAL mode)
    conn = sqlite3.connect(demo_path(given))
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = demo_path(given).read_bytes()
    status, stderr, lines = stream_once(env, "--store", str(given))
    assert status == EXIT_INTERRUPTED and "Traceback" not in stderr and history_in(lines)
    line = _one_store_line(stderr)
    assert line.startswith("monitor: store off: ") and "newer" in line
    assert demo_path(given).read_bytes() == before


# --- the rules, as the TUI uses them (its terminal is the app's: no child process here) --------


def _args(*flags: str) -> Any:
    from monitor.cli import build_parser

    parser, _ = build_parser()
    return parser.parse_args(["tui", *flags])


def _settings(args: Any) -> Settings:
    from monitor.cli.common import settings_from_args

    return settings_from_args(args)[0]


def _opened(flags: Sequence[str], *, demo: bool = True) -> RunStore:
    args = _args(*flags)
    return open_run_store(_settings(args), args, demo=demo)


def test_the_tui_rules_match_the_streams(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("TINKOFF_TOKEN_STRING", "SANDBOX_TOKEN_STRING", "MONITOR_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert _opened(["--no-store"]).store is None and _opened(["--no-store"]).notices == []
    fast = _opened(["--sim-speed", "600"])
    assert fast.store is None and fast.status() is None and fast.notices == [SIM_SPEED_OFF]
    kept = _opened(["--sim-speed", "600", "--store", str(tmp_path / "s.sqlite3")])
    try:
        assert kept.store is not None and kept.status() is None
        assert kept.store.path == tmp_path / "demo-s.sqlite3"
    finally:
        assert kept.store is not None
        kept.store.close()
    real = _opened(["--store", str(tmp_path / "s.sqlite3")], demo=False)
    try:
        assert real.store is not None and real.store.path == tmp_path / "s.sqlite3"
    finally:
        assert real.store is not None
        real.store.close()
    off = _opened(["--store", str(read_only_dir(tmp_path) / "s.sqlite3")])
    assert off.store is None and off.status() is not None and off.status() == off.notices[-1]


def test_the_status_bar_says_store_off_with_the_reason() -> None:
    from zoneinfo import ZoneInfo

    from monitor.feed import Health
    from monitor.ui.widgets.status_bar import STORE_LIMIT, StatusInfo, status_text

    plain = status_text(Health(), StatusInfo(), 0.0, ZoneInfo("UTC")).plain
    assert "store" not in plain
    reason = "store off: " + "x" * 200
    said = status_text(Health(), StatusInfo(store=reason), 0.0, ZoneInfo("UTC")).plain
    assert f"⚠ {reason[: STORE_LIMIT - 1]}…" in said and "x" * STORE_LIMIT not in said


async def test_closing_a_stuck_store_gives_up_after_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    closing = threading.Event()

    class StuckStore:
        def close(self) -> None:
            closing.set()
            release.wait()

    monkeypatch.setattr(runstore, "STORE_CLOSE_TIMEOUT_S", 0.05)
    try:
        await close_run_store(StuckStore())  # type: ignore[arg-type]
        assert closing.is_set()  # it was asked, and quitting went on without it
    finally:
        release.set()


async def test_closing_commits_what_is_queued(tmp_path: Path) -> None:
    from monitor.market import Candle, Interval, Origin, SeriesKey

    store = CandleStore.open(tmp_path / "s.sqlite3")
    key = SeriesKey("uid", Interval.M1)
    store.save(key, [Candle(60 * i, 1.0, 1.0, 1.0, 1.0, 1, True, Origin.STREAM) for i in range(100)])
    await close_run_store(store)
    assert candle_rows(tmp_path / "s.sqlite3") == 100

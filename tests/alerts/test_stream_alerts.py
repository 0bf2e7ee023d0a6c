"""`monitor stream --json` prints the watchlist's alerts as their own NDJSON objects (the command
as a user runs it, against the built-in simulator), and a `once` alert not again after a restart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from monitor.alerts import AlertFired, make_rule
from monitor.cli.printer import Printer
from monitor.market import Candle, Interval
from tests.feed.test_stream_cli import StubFeed, run_until_ctrl_c, user_env

WATCHLIST = """\
[[lists]]
name = "main"
instruments = ["SBER_TQBR", "GAZP_TQBR"]
alerts = [
    { instrument = "SBER_TQBR", when = "volume above 0.001 x 1", note = "any trade", id = "sber-volume" },
    { instrument = "GAZP_TQBR", when = "volume above 0.001 x 1", id = "gazp-not-streamed" },
]
"""


def test_the_alert_record_follows_the_ndjson_shape() -> None:
    rule = make_rule("SBER_TQBR", "close above 354.5", Interval.M1, note="breakout", rule_id="b")
    closed = Candle(1_795_599_960, 1, 1, 1, 355.0, 1, True)
    fired = AlertFired(rule, 355.0, closed, 1_795_599_960, True)
    line = Printer(StubFeed(), ["SBER_TQBR"], as_json=True).alert_line(fired)
    assert json.loads(line) == {
        "event": "alert", "rule": "b", "instrument": "SBER_TQBR", "when": "close above 354.5", "value": 355.0,
        "time": "2026-11-25T09:46:00Z", "offline": True, "note": "breakout",
    }  # fmt: skip
    human = Printer(StubFeed(), ["SBER_TQBR"], as_json=False).alert_line(fired)
    assert human == (
        "2026-11-25T09:46:00Z ALERT SBER_TQBR close above 354.5: 355 at 2026-11-25T09:46:00Z"
        " (while offline) — breakout\n"
    )


def run_stream(tmp_path: Path, watchlist: Path, closed_wanted: int) -> tuple[list[dict[str, Any]], str, int]:
    """Runs `monitor stream SBER_TQBR --json` until `closed_wanted` live closed candles are out
    (or an alert line, when none are wanted), then Ctrl+C; (the records, stderr, exit status)."""
    records: list[dict[str, Any]] = []

    def enough(line: str) -> bool:
        records.append(json.loads(line))
        if closed_wanted == 0:
            return records[-1].get("event") == "alert"
        return sum(1 for r in records if r.get("closed") and r.get("source") == "stream") >= closed_wanted

    args = ["stream", "SBER_TQBR", "--json", "--sim-speed", "600", "--watchlist", str(watchlist)]
    _, stderr, status = run_until_ctrl_c(args, user_env(tmp_path), enough, timeout=30)
    return records, stderr, status


def test_stream_json_prints_an_alert_line_once_across_restarts(tmp_path: Path) -> None:
    watchlist = tmp_path / "w.toml"
    watchlist.write_text(WATCHLIST, encoding="utf-8")
    records, stderr, status = run_stream(tmp_path, watchlist, closed_wanted=0)
    assert status == 130 and "Traceback" not in stderr
    alerts = [r for r in records if r.get("event") == "alert"]
    assert len(alerts) == 1, records[-3:]
    alert = alerts[0]
    assert (alert["rule"], alert["instrument"], alert["when"], alert["note"]) == (
        "sber-volume", "SBER_TQBR", "volume above 0.001 x 1", "any trade"
    )  # fmt: skip
    assert alert["offline"] is False and alert["value"] > 0 and alert["time"].endswith("Z")
    candles = {r["time"]: r for r in records if "event" not in r and r["closed"]}
    assert alert["time"] in candles and candles[alert["time"]]["volume"] == alert["value"]
    # Restarted with one more rule: the new one fires, the `once` one that fired already does not.
    more = '    { instrument = "SBER_TQBR", when = "volume above 0.002 x 1", id = "sber-new" },\n]\n'
    watchlist.write_text(WATCHLIST.rsplit("]", 1)[0] + more, encoding="utf-8")
    again, stderr, status = run_stream(tmp_path, watchlist, closed_wanted=4)
    assert status == 130 and "Traceback" not in stderr
    assert sum(1 for r in again if r.get("closed") and r.get("source") == "stream") >= 4
    assert [r["rule"] for r in again if r.get("event") == "alert"] == ["sber-new"]


def test_a_broken_watchlist_named_on_the_command_line_is_a_usage_error(tmp_path: Path) -> None:
    watchlist = tmp_path / "w.toml"
    watchlist.write_text(WATCHLIST.replace("volume above", "volume abov", 1), encoding="utf-8")
    env = user_env(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "monitor", "stream", "SBER_TQBR", "--watchlist", str(watchlist)],
        capture_output=True, text=True, env=env, timeout=30,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"monitor: error: {watchlist}:5: lists[0].alerts[0].when: cannot read")

"""Fired/armed state across restarts: atomic JSON per watchlist file; a corrupt file is set aside."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from monitor.alerts import AlertState, default_state_dir, state_path
from tests.alerts.kit import Rig, candle, rule


def test_a_fired_once_rule_does_not_fire_again_after_a_restart(tmp_path: Path) -> None:
    first = Rig(rule("price above 100"), state_dir=tmp_path)
    first.prices(99.0, 101.0)
    assert first.values == [101.0]
    second = Rig(rule("price above 100"), state_dir=tmp_path)  # a new monitor, the same state
    second.prices(99.0, 101.0)
    assert second.fired == []
    assert second.engine.statuses()[0].fired == 1 and second.engine.statuses()[0].armed is False


def test_a_rule_whose_text_changed_is_a_new_rule(tmp_path: Path) -> None:
    first = Rig(rule("price above 100", rule_id="breakout"), state_dir=tmp_path)
    first.prices(99.0, 101.0)
    second = Rig(rule("price above 102", rule_id="breakout"), state_dir=tmp_path)
    second.prices(101.0, 102.0)
    assert second.values == [102.0]


def test_a_rearm_rule_keeps_its_readiness_across_a_restart(tmp_path: Path) -> None:
    first = Rig(rule("close above 100", mode="rearm", hysteresis=0.5), state_dir=tmp_path)
    first.closes(99.0, 101.0)
    first.engine.flush()
    second = Rig(rule("close above 100", mode="rearm", hysteresis=0.5), state_dir=tmp_path)
    second.closes(101.0, 100.0, start=2)  # not back by the hysteresis since the fire
    assert second.fired == []
    second.closes(99.0, 100.5, start=4)
    assert second.values == [100.5]


def test_a_crossing_while_the_monitor_was_off_fires_from_the_history_offline(tmp_path: Path) -> None:
    first = Rig(rule("close above 100"), state_dir=tmp_path)
    first.closes(98.0, 99.0)
    first.engine.flush()
    second = Rig(rule("close above 100"), state_dir=tmp_path, history=False)
    second.backfill(*(candle(i, close) for i, close in enumerate([98.0, 99.0, 99.5, 100.5, 101.0])))
    assert [(f.value, f.offline) for f in second.fired] == [(100.5, True)]


def test_the_state_file_is_written_atomically_as_json(tmp_path: Path) -> None:
    rig = Rig(rule("price above 100"), state_dir=tmp_path)
    rig.prices(99.0, 101.0)
    path = tmp_path / "state.json"
    data = json.loads(path.read_text())
    assert data["version"] == 1 and data["rules"]["SBER_TQBR-price-above-100"]["fired"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left behind


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'{"version": 1, "rules": {"x": {"fingerprint": 3}}}',
        b"\xff\xfe",
        b'{"version": 9}',
    ],
    ids=["syntax", "not-a-table", "bad-entry", "not-utf8", "other-version"],
)
def test_a_corrupt_state_file_is_moved_aside_with_a_notice(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with capture_logs() as logs:
        state = AlertState(path)
    assert state.rules == {} and state.notice is not None and "moved to" in state.notice
    assert [entry["event"] for entry in logs] == ["alert_state_unreadable"]
    assert not path.exists() and len(list(tmp_path.glob("state.json.corrupt-*"))) == 1
    rig = Rig(rule("price above 100"), state_dir=tmp_path)
    rig.prices(99.0, 101.0)
    assert rig.values == [101.0] and path.exists()


def test_a_state_file_that_is_a_directory_is_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "state.json").mkdir()
    state = AlertState(tmp_path / "state.json")
    assert state.notice is not None


def test_an_unwritable_state_directory_is_logged_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    state = AlertState(blocker / "sub" / "state.json")
    with capture_logs() as logs:
        assert state.save() is False
    assert state.notice is not None and logs[0]["event"] == "alert_state_not_saved"


def test_state_lives_in_the_xdg_state_dir_one_file_per_watchlist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / "monitor"
    one, other = state_path(Path("/a/w.toml")), state_path(Path("/b/w.toml"))
    assert one.parent == tmp_path / "monitor" / "alerts" and one != other
    assert state_path(Path("/a/w.toml")) == one
    monkeypatch.chdir(tmp_path)
    assert state_path(Path("w.toml")) == state_path(tmp_path / "w.toml")
    assert os.path.isabs(one)


def test_after_a_restart_live_prices_wait_for_the_history_that_saw_the_crossing(tmp_path: Path) -> None:
    first = Rig(rule("price above 100"), state_dir=tmp_path)
    first.prices(99.0)
    first.engine.flush()
    second = Rig(rule("price above 100"), state_dir=tmp_path, history=False)
    second.clock.advance(600)
    second.prices(103.0)  # the stream is up before the history: held
    assert second.fired == []
    second.backfill(candle(2, 100.5, high=101.0, low=99.5), candle(3, 102.0))
    second.series.mark_history_loaded()
    second.feed.notify()
    assert [(f.value, f.time, f.offline) for f in second.fired] == [(101.0, candle(2, 0).time, True)]

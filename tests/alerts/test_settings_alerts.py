"""The `[alerts]` settings: bell, the desktop command (argv list or a string split without a shell)."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.settings import Settings, SettingsError, load_settings
from monitor.settings_alerts import AlertSettings


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("MONITOR_CONFIG_FILE", raising=False)


def test_defaults() -> None:
    alerts = Settings().alerts
    assert (alerts.bell, alerts.command, alerts.command_timeout_s) == (True, None, 5.0)


def test_a_command_string_is_split_like_a_shell_would_but_never_run_by_one(tmp_path: Path) -> None:
    config = tmp_path / "m.toml"
    config.write_text('[alerts]\nbell = false\ncommand = \'notify-send "{title}" "{body}; rm -rf ~"\'\n')
    settings, _ = load_settings(config_file=config)
    assert settings.alerts.bell is False
    assert settings.alerts.command == ["notify-send", "{title}", "{body}; rm -rf ~"]


def test_a_command_list_is_kept() -> None:
    argv = ["notify-send", "{title}"]
    assert AlertSettings(command=argv).command == argv


@pytest.mark.parametrize(
    ("body", "message"),
    [("command = ''", "the command is empty"), ("command = '\"open'", "cannot split"),
     ("command_timeout_s = 0", "command_timeout_s"), ("colour = 1", "colour")],
)  # fmt: skip
def test_bad_alert_settings_are_settings_errors(tmp_path: Path, body: str, message: str) -> None:
    config = tmp_path / "m.toml"
    config.write_text(f"[alerts]\n{body}\n")
    with pytest.raises(SettingsError, match=message):
        load_settings(config_file=config)

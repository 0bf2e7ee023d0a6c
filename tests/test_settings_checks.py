"""Settings checked at load: UI names, numeric bounds, tokens, bounded file reads, the loopback rule."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from monitor.endpoints import is_loopback
from monitor.feed.channel import open_channel
from monitor.feed.config import FeedConfig
from monitor.settings import Settings, SettingsError, load_settings
from monitor.uinames import KEY_ACTIONS, THEMES, key_errors

TOKEN = "t." + "SECRETsecret" * 4 + "0123"  # token-shaped, built at run time


pytestmark = pytest.mark.usefixtures("clean_env")


def error_of(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(config_file=path)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[ui]\nup_color = "not-a-colour"\n', ":2: ui.up_color: Value error, 'not-a-colour' is not a colour"),
        ('[ui]\n\ndown_color = "bold"\n', ":3: ui.down_color: Value error, 'bold' is not a colour"),
        ('[ui]\ntheme = "no-such-theme"\n', ":2: ui.theme: Value error, unknown theme 'no-such-theme'"),
        ('[ui.keys]\nquit = "q"\nfly = "f"\n', ":3: ui.keys.fly: unknown action 'fly'; the actions are: "),
        ('[ui.keys]\npause = "q"\n', ":2: ui.keys.pause: key 'q' is already bound to quit"),
        ('[ui.keys]\nhelp = "h"\nsave = " , "\n', ":3: ui.keys.save: no key given"),
        ('[ui.keys]\nquit = "q,ctrl+c"\n', ":2: ui.keys.quit: key 'ctrl+c' is already bound to interrupt"),
    ],
)
def test_ui_names_are_file_line_field_errors(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "m.toml"
    assert expected in error_of(path, text)
    assert error_of(path, text).startswith(f"{path}:")


def test_valid_ui_names_load() -> None:
    keys = {"pause": "space", "quit": "q,Q", "help": "?,h"}
    values = {"up_color": "#00ff00", "down_color": "rgb(200,0,0)", "theme": "nord", "keys": keys}
    ui = Settings(ui=values).ui  # type: ignore[arg-type]
    assert (ui.up_color, ui.theme, ui.keys["pause"]) == ("#00ff00", "nord", "space")


def test_keys_clash_between_two_overrides_and_aliases() -> None:
    assert key_errors({}) == {}, "the default bindings must not clash"
    assert key_errors({"pause": "z", "save": "z"}) == {
        "pause": "key 'z' is already bound to save; give save another key in [ui.keys] too"
    }
    assert "already bound to help" in key_errors({"pause": "?"})["pause"]  # ? is question_mark


def test_env_colour_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_UI__UP_COLOR", "not-a-colour")
    with pytest.raises(SettingsError, match=r"^environment MONITOR_UI__UP_COLOR: ui.up_color: "):
        load_settings()


def test_theme_names_are_textuals_builtin_themes() -> None:
    from textual.theme import BUILTIN_THEMES

    assert sorted(THEMES) == sorted(BUILTIN_THEMES)
    from monitor.ui.keys import KEY_ACTIONS as UI_ACTIONS

    assert UI_ACTIONS is KEY_ACTIONS


@pytest.mark.parametrize(
    ("section", "line"),
    [
        ("[connection]\nkeepalive_time_ms = 99999999999", "connection.keepalive_time_ms"),
        ("[connection]\nkeepalive_time_ms = 10", "connection.keepalive_time_ms"),
        ("[connection]\nkeepalive_timeout_ms = 99999999999", "connection.keepalive_timeout_ms"),
        ("[connection]\nping_delay_ms = 1", "connection.ping_delay_ms"),
        ("[connection]\nconnect_timeout_s = inf", "connection.connect_timeout_s"),
        ("[connection]\nconnect_timeout_s = nan", "connection.connect_timeout_s"),
        ("[connection]\nconnect_timeout_s = 0.001", "connection.connect_timeout_s"),
        ("[feed]\nhistory_candles = 1000000", "feed.history_candles"),
        ("[feed]\nmax_streams = 0", "feed.max_streams"),
        ("[feed]\nsubscriptions_per_stream = 301", "feed.subscriptions_per_stream"),
        ("[feed]\nreconcile_interval_s = 1e-300", "feed.reconcile_interval_s"),
        ("[feed]\nreconcile_interval_s = inf", "feed.reconcile_interval_s"),
        ("[feed]\nstale_after_s = 1e300", "feed.stale_after_s"),
        ("[feed]\nstale_after_s = nan", "feed.stale_after_s"),
        ("[ui]\nrefresh_hz = 1e-300", "ui.refresh_hz"),
        ("[ui]\nrefresh_hz = inf", "ui.refresh_hz"),
    ],
)
def test_numeric_settings_have_bounds(tmp_path: Path, section: str, line: str) -> None:
    path = tmp_path / "m.toml"
    assert error_of(path, f"# bounds\n{section}\n").startswith(f"{path}:3: {line}: ")


def test_shipped_numeric_defaults_are_inside_the_bounds() -> None:
    settings = Settings()
    assert settings.connection.keepalive_time_ms == 60_000 and settings.ui.refresh_hz == 10.0


@pytest.mark.parametrize(
    ("raw", "clean"),
    [("\ufefft.abc\n", "t.abc"), ("  t.abc \r\n", "t.abc"), (" \ufeff t.abc\t\n\n", "t.abc")],
)
def test_token_bom_and_whitespace_are_stripped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: str, clean: str
) -> None:
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", raw)
    token = load_settings()[0].resolved_token()
    assert token is not None and token.get_secret_value() == clean
    monkeypatch.delenv("TINKOFF_TOKEN_STRING")
    token_file = tmp_path / "token"
    token_file.write_bytes(raw.encode("utf-8"))
    token_file.chmod(0o600)
    token = load_settings({"connection": {"token_file": token_file}})[0].resolved_token()
    assert token is not None and token.get_secret_value() == clean


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (TOKEN[:10] + "\u0441" + TOKEN[10:], "has a non-ASCII character at position 11"),  # a Cyrillic с
        (TOKEN[:10] + "\n" + TOKEN[10:], "has a line break inside"),
        (TOKEN[:10] + " " + TOKEN[10:], "has a space or control character at position 11"),
    ],
)
def test_token_with_a_character_no_header_can_carry_is_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str, reason: str
) -> None:
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", bad)
    with pytest.raises(SettingsError, match=f"^the token in TINKOFF_TOKEN_STRING {reason}") as info:
        load_settings()
    assert TOKEN[:10] not in str(info.value) and TOKEN[11:] not in str(info.value)
    monkeypatch.delenv("TINKOFF_TOKEN_STRING")
    token_file = tmp_path / "token"
    token_file.write_text(bad)
    with pytest.raises(SettingsError, match=f"^the token in token file {token_file} {reason}"):
        load_settings({"connection": {"token_file": token_file}})


@pytest.mark.timeout(20)
def test_settings_and_token_files_must_be_regular_and_small(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    zero = tmp_path / "zero"
    zero.symlink_to("/dev/zero")
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (2 * 1024 * 1024))
    cases = [
        (fifo, "not a regular file (a FIFO)"),
        (zero, "not a regular file (a device)"),
        (tmp_path, "not a regular file (a directory)"),
        (big, "larger than 1024 KiB"),
    ]
    for path, reason in cases:
        with pytest.raises(SettingsError, match=re.escape(f"cannot read settings file {path}: {reason}")):
            load_settings(config_file=path)
        if path != big:
            with pytest.raises(SettingsError, match=re.escape(f"cannot read token file {path}: {reason}")):
                load_settings({"connection": {"token_file": path}})
    with pytest.raises(SettingsError, match="larger than 64 KiB"):
        big.chmod(0o600)
        load_settings({"connection": {"token_file": big}})


def test_a_named_settings_file_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(SettingsError, match=rf"^--config {missing}: no such settings file$"):
        load_settings(config_file=missing)
    monkeypatch.setenv("MONITOR_CONFIG_FILE", str(missing))
    with pytest.raises(SettingsError, match=rf"^MONITOR_CONFIG_FILE {missing}: no such settings file$"):
        load_settings()
    monkeypatch.delenv("MONITOR_CONFIG_FILE")
    assert load_settings()[1][0].startswith("no settings file at ")  # the default file may be absent


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True), ("LOCALHOST", True), ("127.0.0.1", True), ("127.8.9.10", True),
        ("::1", True), ("::ffff:127.0.0.1", True), ("ip6-localhost", False), ("localhost.", False),
        ("0.0.0.0", False), ("example.com", False), ("::", False),
    ],
)  # fmt: skip
async def test_settings_and_channel_share_one_plaintext_rule(host: str, loopback: bool) -> None:
    endpoint = f"[{host}]:50051" if ":" in host else f"{host}:50051"
    assert is_loopback(host) is loopback
    try:
        load_settings({"connection": {"endpoint": endpoint, "plaintext": True}})
        settings_ok = True
    except SettingsError as exc:
        assert f"not {host}" in str(exc)
        settings_ok = False
    try:
        await open_channel(FeedConfig(endpoint=endpoint, plaintext=True)).close()
        channel_ok = True
    except ValueError as exc:
        assert f"not {host}" in str(exc)
        channel_ok = False
    assert settings_ok is channel_ok is loopback


def test_a_settings_file_saved_with_a_bom_loads(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_bytes(b'\xef\xbb\xbf[ui]\ntheme = "nord"\nrefresh_hz = 0\n')
    with pytest.raises(SettingsError, match=rf"^{re.escape(str(path))}:3: ui.refresh_hz: "):
        load_settings(config_file=path)
    path.write_bytes(b'\xef\xbb\xbf[ui]\ntheme = "nord"\n')
    assert load_settings(config_file=path)[0].ui.theme == "nord"

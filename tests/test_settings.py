"""Settings: source priority, sandbox and token rules, clear errors and a token that never leaks."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import EnvSettingsSource, InitSettingsSource

from monitor.endpoints import SANDBOX_ENDPOINT, split_endpoint
from monitor.settings import (
    ConnectionSettings,
    Settings,
    SettingsError,
    SettingsFileSource,
    load_settings,
    shipped_watchlist,
)

TOKEN = "t." + "SECRETsecret" * 4 + "0123"  # token-shaped, built at run time
REPO = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("clean_env")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_gives_defaults_and_one_notice(tmp_path: Path) -> None:
    settings, notices = load_settings()
    assert settings.connection.endpoint == "invest-public-api.tbank.ru:443"
    assert settings.log.file == tmp_path / "state" / "monitor" / "monitor.log"
    assert settings.demo is True
    assert len(notices) == 1
    assert str(tmp_path / "cfg" / "monitor" / "monitor.toml") in notices[0]


def test_shipped_example_config_loads_with_default_values() -> None:
    settings, notices = load_settings(config_file=REPO / "config" / "monitor.toml")
    assert notices == []
    assert settings.model_dump(exclude={"log"}) == Settings().model_dump(exclude={"log"})


def test_priority_defaults_toml_env_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(
        tmp_path / "m.toml",
        '[connection]\nendpoint = "file.example:443"\napp_name = "from-file"\n[feed]\nmax_streams = 2\n',
    )
    settings, _ = load_settings(config_file=config)
    assert settings.connection.endpoint == "file.example:443"
    assert settings.feed.max_streams == 2

    monkeypatch.setenv("MONITOR_CONNECTION__ENDPOINT", "env.example:443")
    settings, _ = load_settings(config_file=config)
    assert settings.connection.endpoint == "env.example:443"
    assert settings.connection.app_name == "from-file"  # env and file merge per field

    settings, _ = load_settings({"connection": {"endpoint": "cli.example:443"}}, config_file=config)
    assert settings.connection.endpoint == "cli.example:443"
    assert settings.connection.app_name == "from-file"
    assert settings.feed.max_streams == 2


def test_source_tuple_order_is_init_env_toml() -> None:
    sources = Settings.settings_customise_sources(
        Settings,
        InitSettingsSource(Settings, {}),
        EnvSettingsSource(Settings),
        EnvSettingsSource(Settings),
        EnvSettingsSource(Settings),
    )
    assert [type(s) for s in sources] == [InitSettingsSource, EnvSettingsSource, SettingsFileSource]


def test_config_file_from_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = write(tmp_path / "x.toml", '[ui]\nrenderer = "plotext"\n')
    monkeypatch.setenv("MONITOR_CONFIG_FILE", str(config))
    settings, notices = load_settings()
    assert settings.ui.renderer == "plotext"
    assert notices == []


def test_sandbox_switches_host_and_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", "live-token")
    monkeypatch.setenv("SANDBOX_TOKEN_STRING", "sandbox-token")
    live, _ = load_settings()
    assert live.resolved_token() == SecretStr("live-token")
    sandbox, _ = load_settings({"connection": {"sandbox": True}})
    assert sandbox.connection.endpoint == SANDBOX_ENDPOINT
    token = sandbox.resolved_token()
    assert token is not None and token.get_secret_value() == "sandbox-token"
    old = ConnectionSettings(sandbox=True, endpoint="invest-public-api.tinkoff.ru:443")
    assert old.endpoint == "sandbox-invest-public-api.tinkoff.ru:443"
    custom = ConnectionSettings(sandbox=True, endpoint="127.0.0.1:9000")
    assert custom.endpoint == "127.0.0.1:9000"


def test_token_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = write(tmp_path / "token", "from-file\n")
    token_file.chmod(0o600)
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", "from-env")
    settings, notices = load_settings({"connection": {"token_file": token_file}})
    assert settings.resolved_token() == SecretStr("from-file")
    assert notices == [
        "no settings file at " + str(tmp_path / "cfg/monitor/monitor.toml") + "; using defaults"
    ]
    monkeypatch.setenv("MONITOR_CONNECTION__TOKEN", "explicit")
    settings, _ = load_settings({"connection": {"token_file": token_file}})
    assert settings.resolved_token() == SecretStr("explicit")
    assert settings.demo is False


def test_loose_token_file_permissions_warn(tmp_path: Path) -> None:
    token_file = write(tmp_path / "token", "abc\n")
    token_file.chmod(0o644)
    _, notices = load_settings({"connection": {"token_file": token_file}})
    assert any(n.startswith("warning:") and "chmod 600" in n for n in notices)


def test_unreadable_token_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read token file"):
        load_settings({"connection": {"token_file": tmp_path / "nope"}})


def test_plaintext_only_to_loopback() -> None:
    for endpoint in ("127.0.0.1:1", "127.9.9.9:1", "[::1]:50051", "localhost:8080"):
        assert ConnectionSettings(endpoint=endpoint, plaintext=True).plaintext
    with pytest.raises(SettingsError, match=r"command line: connection: .*plaintext is only allowed"):
        load_settings({"connection": {"endpoint": "example.com:443", "plaintext": True}})


def test_broken_toml_names_file_and_line(tmp_path: Path) -> None:
    config = write(tmp_path / "bad.toml", '[connection]\nendpoint = "a:1"\nsandbox = \n')
    with pytest.raises(SettingsError) as info:
        load_settings(config_file=config)
    assert str(info.value).startswith(f"{config}:3: invalid TOML")


def test_wrong_value_names_file_line_and_field(tmp_path: Path) -> None:
    config = write(
        tmp_path / "bad.toml", "# c\n[feed]\nhistory_candles = 200\n\n[connection]\nping_delay_ms = 10\n"
    )
    with pytest.raises(SettingsError) as info:
        load_settings(config_file=config)
    assert str(info.value).startswith(f"{config}:6: connection.ping_delay_ms: Input should be greater")


def test_unknown_key_and_bad_choice_are_errors(tmp_path: Path) -> None:
    config = write(tmp_path / "bad.toml", '[ui]\nrenderer = "ascii"\n[log]\nlevl = "x"\n')
    with pytest.raises(SettingsError) as info:
        load_settings(config_file=config)
    message = str(info.value)
    assert f"{config}:2: ui.renderer: Input should be 'native' or 'plotext'" in message
    assert f"{config}:4: log.levl: Extra inputs are not permitted" in message


def test_non_utf8_config_names_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_bytes(b'[ui]\ntheme = "\xff"\n')
    with pytest.raises(SettingsError, match=rf"{config}:2: the file is not valid UTF-8"):
        load_settings(config_file=config)


def test_env_error_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_FEED__MAX_STREAMS", "many")
    with pytest.raises(SettingsError, match=r"environment MONITOR_FEED__MAX_STREAMS: feed\.max_streams"):
        load_settings()


def test_token_never_in_repr_str_or_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MONITOR_CONNECTION__TOKEN", TOKEN)
    settings, _ = load_settings()
    for text in (repr(settings), str(settings), repr(settings.connection), str(settings.model_dump())):
        assert TOKEN not in text
    with pytest.raises(SettingsError) as info:
        load_settings({"connection": {"endpoint": "example.com:443", "plaintext": True}})
    assert TOKEN not in str(info.value)
    with pytest.raises(ValidationError) as raw:
        ConnectionSettings(token=SecretStr(TOKEN), endpoint="example.com:443", plaintext=True)
    assert TOKEN not in str(raw.value)
    with pytest.raises(ValidationError) as raw_settings:
        Settings(connection={"token": TOKEN, "endpoint": "nope"})  # type: ignore[arg-type]
    assert TOKEN not in str(raw_settings.value)


def test_watchlist_path_resolution(tmp_path: Path) -> None:
    settings, _ = load_settings()
    assert settings.watchlist_path() == shipped_watchlist()
    assert settings.writable_watchlist_path() == tmp_path / "cfg" / "monitor" / "watchlist.toml"
    user = tmp_path / "cfg" / "monitor" / "watchlist.toml"
    user.parent.mkdir(parents=True)
    user.write_text("x")
    assert settings.watchlist_path() == user
    explicit, _ = load_settings({"watchlist": tmp_path / "w.toml"})
    assert explicit.watchlist_path() == tmp_path / "w.toml"


def test_shipped_watchlist_is_the_config_example() -> None:
    assert shipped_watchlist().read_bytes() == (REPO / "config" / "watchlist.toml").read_bytes()


def test_split_endpoint() -> None:
    assert split_endpoint("invest-public-api.tbank.ru:443") == ("invest-public-api.tbank.ru", 443)
    assert split_endpoint("[::1]:50051") == ("::1", 50051)
    for bad in ("nohost", "host:0", "host:99999", "a b:1", ":443"):
        with pytest.raises(ValueError):
            split_endpoint(bad)


def test_feed_section_reaches_the_feed_config() -> None:
    """Every feed setting the feed reads is carried into FeedConfig."""
    from monitor.feed.config import FeedConfig
    from monitor.settings import FeedSettings, Settings

    settings = Settings(feed=FeedSettings(subscriptions_per_stream=120, history_candles=50, max_streams=3))
    config = FeedConfig.from_settings(settings, token="x")
    assert (config.subscriptions_per_stream, config.history_candles, config.max_streams) == (120, 50, 3)

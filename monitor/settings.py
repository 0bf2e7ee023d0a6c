"""Settings: defaults < TOML file < environment < CLI flags, with the token kept secret."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from monitor.endpoints import PROD_ENDPOINT, SANDBOX_ENDPOINT, is_loopback, split_endpoint
from monitor.tomlpos import find_line

TOKEN_ENV = "TINKOFF_TOKEN_STRING"
SANDBOX_TOKEN_ENV = "SANDBOX_TOKEN_STRING"
CONFIG_FILE_ENV = "MONITOR_CONFIG_FILE"
SHIPPED_WATCHLIST = "default_watchlist.toml"
# With sandbox on, a production host (either domain) means its sandbox twin; other hosts stay as set.
_SANDBOX_TWINS = {
    PROD_ENDPOINT: SANDBOX_ENDPOINT,
    "invest-public-api.tinkoff.ru:443": "sandbox-invest-public-api.tinkoff.ru:443",
}

# The TOML file for the Settings being built; a ContextVar so concurrent loads cannot mix paths.
_TOML_FILE: ContextVar[Path | None] = ContextVar("monitor_settings_toml_file", default=None)


class SettingsError(Exception):
    """The settings cannot be loaded; the message is one line fit for the terminal."""


def user_config_dir() -> Path:
    """`$XDG_CONFIG_HOME/monitor` or `~/.config/monitor`."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "monitor"


def default_log_file() -> Path:
    """`monitor.log` in `$XDG_STATE_HOME/monitor` or `~/.local/state/monitor` (logs are state)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "monitor" / "monitor.log"


def shipped_watchlist() -> Path:
    """The example watchlist shipped inside the package (a copy of config/watchlist.toml)."""
    return Path(str(resources.files("monitor").joinpath(SHIPPED_WATCHLIST)))


def _usable_path(value: Path | None) -> Path | None:
    """`value` with ~ expanded; a NUL byte is refused here, as every OS call would raise ValueError."""
    if value is None:
        return None
    if "\x00" in str(value):
        raise ValueError("the path contains a NUL byte")
    return value.expanduser()


class ConnectionSettings(BaseModel):
    """How to reach the T-Invest API (or the simulator)."""

    # Validation errors must never echo inputs: the section's input holds the token.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    endpoint: str = Field(default=PROD_ENDPOINT)
    """gRPC endpoint HOST:PORT; invest-public-api.tinkoff.ru:443 is the older name of the same API."""
    sandbox: bool = Field(default=False)
    """Use the sandbox: the endpoint default becomes the sandbox host, the token SANDBOX_TOKEN_STRING."""
    token: SecretStr | None = Field(default=None)
    """API token; prefer TINKOFF_TOKEN_STRING / SANDBOX_TOKEN_STRING or token_file over writing it here."""
    token_file: Path | None = Field(default=None)
    """A file holding the token (first line); should be readable by its owner only."""
    ca_file: Path | None = Field(default=None)
    """Extra root CA PEM trusted on top of the system roots (e.g. Russian Trusted Root CA)."""
    plaintext: bool = Field(default=False)
    """Connect without TLS; only allowed for loopback endpoints (the local simulator)."""
    app_name: str = Field(default="monitor")
    """Sent as the x-app-name header for the API's usage statistics."""
    keepalive_time_ms: int = Field(default=60_000, gt=0)
    """HTTP/2 keepalive ping interval (grpc.keepalive_time_ms)."""
    keepalive_timeout_ms: int = Field(default=20_000, gt=0)
    """How long to wait for a keepalive ack before the connection is considered dead."""
    ping_delay_ms: int = Field(default=15_000, ge=5_000, le=180_000)
    """Application ping interval asked of the stream (PingDelaySettings), 5 s..180 s."""
    connect_timeout_s: float = Field(default=20.0, gt=0)
    """How long to wait for a connection or the first response."""

    @field_validator("endpoint")
    @classmethod
    def _check_endpoint(cls, value: str) -> str:
        split_endpoint(value)
        return value

    @field_validator("token_file", "ca_file")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return _usable_path(value)

    @model_validator(mode="after")
    def _apply_rules(self) -> ConnectionSettings:
        if self.sandbox:
            self.endpoint = _SANDBOX_TWINS.get(self.endpoint, self.endpoint)
        host, _ = split_endpoint(self.endpoint)
        if self.plaintext and not is_loopback(host):
            raise ValueError(
                f"plaintext is only allowed for loopback endpoints (localhost, 127.0.0.0/8, ::1), not {host}"
            )
        return self


class FeedSettings(BaseModel):
    """How the feed subscribes, backfills and watches the stream."""

    model_config = ConfigDict(extra="forbid")

    history_candles: int = Field(default=200, ge=1, le=5_000)
    """Closed candles backfilled per panel."""
    max_streams: int = Field(default=4, ge=1, le=16)
    """Most MarketDataStream calls opened at once (each carries up to 300 subscriptions)."""
    subscriptions_per_stream: int = Field(default=300, ge=1, le=300)
    """Candle subscriptions put on one stream before the next is opened (the API allows 300)."""
    reconcile_interval_s: float = Field(default=60.0, gt=0)
    """How often desired vs confirmed subscriptions are compared."""
    stale_after_s: float | None = Field(default=None, gt=0)
    """Silence after which a stream is considered dead; None means 3 x the ping delay."""


class UISettings(BaseModel):
    """How the terminal UI looks and which keys it answers to."""

    model_config = ConfigDict(extra="forbid")

    renderer: Literal["native", "plotext"] = Field(default="native")
    """Candle renderer for live panels: the fast native one or plotext."""
    theme: str = Field(default="textual-dark")
    """Textual theme name."""
    up_color: str = Field(default="green")
    """Colour of rising candles."""
    down_color: str = Field(default="red")
    """Colour of falling candles."""
    timezone: Literal["exchange", "local", "utc"] = Field(default="exchange")
    """Time axis: exchange time (Moscow for MOEX), the local zone or UTC."""
    refresh_hz: float = Field(default=10.0, gt=0, le=60)
    """Most redraws per second."""
    keys: dict[str, str] = Field(default_factory=dict)
    """Action name -> key(s) (comma separated), overriding the default bindings."""


class LogSettings(BaseModel):
    """Where and how much to log (never to the terminal)."""

    model_config = ConfigDict(extra="forbid")

    file: Path = Field(default_factory=default_log_file)
    """Log file (JSON lines)."""
    level: Literal["debug", "info", "warning", "error"] = Field(default="info")
    """Lowest level written."""

    @field_validator("file")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return _usable_path(value) or value


class Settings(BaseSettings):
    """Every setting of monitor; build with `load_settings` and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="MONITOR_",
        env_nested_delimiter="__",
        extra="forbid",
        hide_input_in_errors=True,
        nested_model_default_partial_update=False,
    )

    connection: ConnectionSettings = Field(default_factory=ConnectionSettings)
    """API endpoint, TLS and token."""
    feed: FeedSettings = Field(default_factory=FeedSettings)
    """Subscriptions, backfill and stream health."""
    ui: UISettings = Field(default_factory=UISettings)
    """Look and keys of the terminal UI."""
    log: LogSettings = Field(default_factory=LogSettings)
    """Log file and level."""
    watchlist: Path | None = Field(default=None)
    """Watchlist file; None = the user's watchlist.toml if present, else the shipped example."""

    @field_validator("watchlist")
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        return _usable_path(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Tuple order is priority order: CLI flags (init kwargs) beat the environment, which beats
        # the TOML file, which beats the defaults. No dotenv or secrets dir: the token has its own rules.
        del dotenv_settings, file_secret_settings
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=_TOML_FILE.get()),
        )

    def resolved_token(self) -> SecretStr | None:
        """The token to send: connection.token, else token_file, else the env var for the mode.

        Raises SettingsError when token_file is set but cannot be read.
        """
        conn = self.connection
        if conn.token is not None and conn.token.get_secret_value().strip():
            return SecretStr(conn.token.get_secret_value().strip())
        if conn.token_file is not None:
            try:
                text = conn.token_file.expanduser().read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise SettingsError(f"cannot read token file {conn.token_file}: {_reason(exc)}") from None
            lines = text.strip().splitlines()
            if not lines or not lines[0].strip():
                raise SettingsError(f"token file {conn.token_file} is empty")
            return SecretStr(lines[0].strip())
        value = os.environ.get(SANDBOX_TOKEN_ENV if conn.sandbox else TOKEN_ENV, "").strip()
        return SecretStr(value) if value else None

    @property
    def demo(self) -> bool:
        """True when no token is available: run against the built-in simulator."""
        return self.resolved_token() is None

    def watchlist_path(self) -> Path:
        """The watchlist file to load: --watchlist, else the user's, else the shipped example."""
        if self.watchlist is not None:
            return self.watchlist.expanduser()
        user = user_watchlist_path()
        return user if user.is_file() else shipped_watchlist()

    def writable_watchlist_path(self) -> Path:
        """Where UI edits are saved: the loaded file, or the user's copy if the shipped one is in use."""
        path = self.watchlist_path()
        return user_watchlist_path() if path == shipped_watchlist() else path


def user_watchlist_path() -> Path:
    """The user's own watchlist file in the config directory."""
    return user_config_dir() / "watchlist.toml"


def _reason(exc: BaseException) -> str:
    """A short reason for an OS/decoding error without the noise of its repr."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _config_path(config_file: Path | None) -> Path:
    if config_file is not None:
        return config_file.expanduser()
    env = os.environ.get(CONFIG_FILE_ENV)
    return Path(env).expanduser() if env else user_config_dir() / "monitor.toml"


def _env_name(loc: tuple[str | int, ...]) -> str:
    return "MONITOR_" + "__".join(str(part).upper() for part in loc)


def _describe_errors(exc: ValidationError, path: Path, text: str | None, overrides: Mapping[str, Any]) -> str:
    """One line per error naming where the bad value came from: CLI flag, env var or file:line."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(error["loc"])
        # An odd key (a newline, a space) is quoted so the message stays one line.
        field = ".".join(_key_text(part) for part in loc) or "settings"
        where = _origin(loc, path, text, overrides)
        lines.append(f"{where}: {field}: {error['msg']}")
    return "; ".join(lines)


def _key_text(part: str | int) -> str:
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_\-]+", text) else repr(text)


def _origin(loc: tuple[str | int, ...], path: Path, text: str | None, overrides: Mapping[str, Any]) -> str:
    if _has(overrides, loc):
        return "command line"
    # A model-level error (loc = ("connection",)) may come from any source; env first, as it wins.
    for env in (os.environ.get(_env_name(loc[:n])) for n in range(len(loc), 0, -1)):
        if env is not None:
            return f"environment {_env_name(loc)}"
    if text is not None:
        line = find_line(text, loc)
        return f"{path}:{line}" if line else str(path)
    return "settings"


def _has(data: Mapping[str, Any], loc: tuple[str | int, ...]) -> bool:
    current: Any = data
    for part in loc:
        if not isinstance(current, Mapping) or part not in current:
            return False
        current = current[part]
    return True


def load_settings(
    cli_overrides: Mapping[str, Any] | None = None, config_file: Path | None = None
) -> tuple[Settings, list[str]]:
    """Builds Settings from defaults, the TOML file, the environment and CLI overrides.

    Args:
        cli_overrides: nested values from CLI flags, e.g. {"connection": {"sandbox": True}}.
        config_file: the settings file (--config); else MONITOR_CONFIG_FILE, else the user config dir.

    Returns:
        The settings and notices worth logging (missing file, loose token file permissions).

    Raises:
        SettingsError: one line naming the file, line and field (or env var / flag) at fault.
    """
    overrides = dict(cli_overrides or {})
    notices: list[str] = []
    path = _config_path(config_file)
    text: str | None = None
    if path.is_file():
        text = _read_config_text(path)
    else:
        notices.append(f"no settings file at {path}; using defaults")
    toml_file = _TOML_FILE.set(path if text is not None else None)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe_errors(exc, path, text, overrides)) from None
    finally:
        _TOML_FILE.reset(toml_file)
    notices.extend(_token_file_notices(settings))
    settings.resolved_token()  # surfaces an unreadable token file now, not at connect time
    return settings, notices


def _read_config_text(path: Path) -> str:
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise SettingsError(f"{path}:{line}: the file is not valid UTF-8") from None
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {_reason(exc)}") from None
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no lineno attribute; the message ends "(at line L, column C)".
        match = re.search(r"at line (\d+)", str(exc))
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "", str(exc))
        raise SettingsError(f"{path}:{match[1] if match else 1}: invalid TOML: {reason}") from None
    return text


def _token_file_notices(settings: Settings) -> list[str]:
    token_file = settings.connection.token_file
    if token_file is None:
        return []
    try:
        mode = token_file.expanduser().stat().st_mode
    except OSError:
        return []
    if mode & 0o077:
        return [f"warning: token file {token_file} is readable by group/others; run: chmod 600 {token_file}"]
    return []

"""Settings: defaults < TOML file < environment < CLI flags, with the token kept secret."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from contextvars import ContextVar
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings import SettingsError as SourceError

from monitor.endpoints import PROD_ENDPOINT, SANDBOX_ENDPOINT, require_loopback, split_endpoint
from monitor.settings_alerts import AlertSettings
from monitor.settings_origin import describe_errors, describe_source_error, env_name
from monitor.settings_read import SettingsError as SettingsError
from monitor.settings_read import clean_token, read_config_text, read_token_file, token_file_notices
from monitor.settings_store import StoreSettings
from monitor.uinames import THEMES, color_error, key_errors

TOKEN_ENV = "TINKOFF_TOKEN_STRING"
SANDBOX_TOKEN_ENV = "SANDBOX_TOKEN_STRING"
CONFIG_FILE_ENV = "MONITOR_CONFIG_FILE"
SHIPPED_WATCHLIST = "default_watchlist.toml"
# With sandbox on, a production host (either domain) means its sandbox twin; other hosts stay as set.
_SANDBOX_TWINS = {
    PROD_ENDPOINT: SANDBOX_ENDPOINT,
    "invest-public-api.tinkoff.ru:443": "sandbox-invest-public-api.tinkoff.ru:443",
}

# The parsed TOML file for the Settings being built (read once, bounded, by load_settings); a
# ContextVar so concurrent loads cannot mix files.
_TOML_DATA: ContextVar[dict[str, Any]] = ContextVar("monitor_settings_toml_data", default={})  # noqa: B039


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


def _check_colour(value: str) -> str:
    if (error := color_error(value)) is not None:
        raise ValueError(error)
    return value


Colour = Annotated[str, AfterValidator(_check_colour)]
"""A colour the panels and the sidebar can draw; checked at load, not 4 s into the TUI."""


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
    """A file holding the token alone (one line); should be readable by its owner only."""
    ca_file: Path | None = Field(default=None)
    """Extra root CA PEM trusted on top of the system roots (e.g. Russian Trusted Root CA)."""
    plaintext: bool = Field(default=False)
    """Connect without TLS; only allowed for loopback endpoints (the local simulator)."""
    app_name: str = Field(default="monitor")
    """Sent as the x-app-name header for the API's usage statistics."""
    keepalive_time_ms: int = Field(default=60_000, ge=1_000, le=3_600_000)
    """HTTP/2 keepalive ping interval (grpc.keepalive_time_ms), 1 s..1 h; below 60 s counts as 60 s."""
    keepalive_timeout_ms: int = Field(default=20_000, ge=1_000, le=600_000)
    """How long to wait for a keepalive ack before the connection is considered dead, 1 s..10 min."""
    ping_delay_ms: int = Field(default=15_000, ge=5_000, le=180_000)
    """Application ping interval asked of the stream (PingDelaySettings), 5 s..180 s."""
    connect_timeout_s: float = Field(default=20.0, ge=0.5, le=600, allow_inf_nan=False)
    """How long to wait for a connection or the first response, 0.5..600 s."""

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
        if self.plaintext:
            require_loopback(host)
        return self


class FeedSettings(BaseModel):
    """How the feed subscribes, backfills and watches the stream."""

    model_config = ConfigDict(extra="forbid")

    history_candles: int = Field(default=200, ge=1, le=5_000)
    """Closed candles backfilled per panel."""
    max_candles: int = Field(default=50_000, ge=1_000, le=1_000_000)
    """Most candles one series holds in memory, 1000..1000000 (scroll-back loads older ones)."""
    max_streams: int = Field(default=4, ge=1, le=16)
    """Most MarketDataStream calls opened at once (each carries up to 300 subscriptions)."""
    subscriptions_per_stream: int = Field(default=300, ge=1, le=300)
    """Candle subscriptions put on one stream before the next is opened (the API allows 300)."""
    reconcile_interval_s: float = Field(default=60.0, ge=1, le=3_600, allow_inf_nan=False)
    """How often desired vs confirmed subscriptions are compared, 1..3600 s."""
    stale_after_s: float | None = Field(default=None, ge=1, le=3_600, allow_inf_nan=False)
    """Silence after which a stream is considered dead, 1..3600 s; None means 3 x the ping delay."""
    instrument_refresh_s: float = Field(default=86_400.0, ge=0, le=30 * 86_400, allow_inf_nan=False)
    """Age (s) under which a stored instrument is used without a look-up, 0..30 days; 0 always asks."""


class UISettings(BaseModel):
    """How the terminal UI looks and which keys it answers to."""

    model_config = ConfigDict(extra="forbid")

    renderer: Literal["native", "plotext"] = Field(default="native")
    """Candle renderer for live panels: the fast native one or plotext."""
    theme: str = Field(default="textual-dark")
    """Textual theme name (one of monitor.uinames.THEMES)."""
    up_color: Colour = Field(default="green")
    """Colour of rising candles."""
    down_color: Colour = Field(default="red")
    """Colour of falling candles."""
    timezone: Literal["exchange", "local", "utc"] = Field(default="exchange")
    """Time axis: exchange time (Moscow for MOEX), the local zone or UTC."""
    refresh_hz: float = Field(default=10.0, ge=1, le=60, allow_inf_nan=False)
    """Most redraws per second, 1..60."""
    keys: dict[str, str] = Field(default_factory=dict)
    """Action name -> key(s) (comma separated), overriding the default bindings."""

    @field_validator("theme")
    @classmethod
    def _check_theme(cls, value: str) -> str:
        if value not in THEMES:
            raise ValueError(f"unknown theme {value!r}; the themes are: {', '.join(THEMES)}")
        return value

    @field_validator("keys")
    @classmethod
    def _check_keys(cls, value: dict[str, str]) -> dict[str, str]:
        errors = key_errors(value)
        if errors:
            # One error per action, located at its own key (FILE:LINE of `pause = "q"`).
            line_errors: list[InitErrorDetails] = [
                {"type": PydanticCustomError("key_binding", message), "loc": (action,), "input": None}
                for action, message in errors.items()
            ]
            raise ValidationError.from_exception_data("keys", line_errors)
        return value


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


class SettingsFileSource(InitSettingsSource):
    """The settings file's values, parsed once by `load_settings` from a bounded read.

    Not pydantic-settings' TomlConfigSettingsSource: that one opens the file again, unbounded.
    """


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
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    """Bell and desktop command for fired alerts."""
    store: StoreSettings = Field(default_factory=StoreSettings)
    """The embedded candle store."""
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
            SettingsFileSource(settings_cls, init_kwargs=_TOML_DATA.get()),
        )

    def resolved_token(self) -> SecretStr | None:
        """The token to send: connection.token, else token_file, else the env var for the mode.

        A UTF-8 BOM and surrounding whitespace are dropped (editors and `echo` add them).

        Raises SettingsError when token_file cannot be read, or a token holds a character a gRPC
        header cannot carry (a line break, a space, a non-ASCII letter).
        """
        conn = self.connection
        if conn.token is not None:
            token = clean_token(conn.token.get_secret_value(), "in connection.token")
            if token is not None:
                return SecretStr(token)
        if conn.token_file is not None:
            return SecretStr(read_token_file(conn.token_file))
        env = SANDBOX_TOKEN_ENV if conn.sandbox else TOKEN_ENV
        token = clean_token(os.environ.get(env, ""), f"in {env}")
        return SecretStr(token) if token is not None else None

    @property
    def demo(self) -> bool:
        """True when there is no token and neither an endpoint nor the sandbox was asked for."""
        return self.resolved_token() is None and self.missing_token() is None

    def missing_token(self) -> str | None:
        """Why the connection asked for cannot be made: no token, yet an endpoint or the sandbox was
        set (an explicit endpoint is never swapped for the built-in simulator); None otherwise."""
        if self.resolved_token() is not None:
            return None
        conn = self.connection
        if conn.sandbox:
            return (
                f"--sandbox needs a sandbox token: {SANDBOX_TOKEN_ENV} is not set (or use --token-file FILE)"
            )
        if "endpoint" in conn.model_fields_set:
            return (
                f"no token for {conn.endpoint}: set {TOKEN_ENV} or use --token-file FILE (for a `monitor "
                "sim`, the token it printed); `monitor` with no endpoint runs the built-in demo"
            )
        return None

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


def _json_env_vars() -> set[str]:
    """The MONITOR_* variables that must hold JSON: each section, and each dict inside one."""
    names = set()
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            names.add(env_name((section,)))
            names.update(
                env_name((section, key))
                for key, sub in model.model_fields.items()
                if get_origin(sub.annotation) is dict
            )
    return names


def _config_path(config_file: Path | None) -> tuple[Path, str | None]:
    """The settings file and, when it was named explicitly, by what (a missing one is then an error)."""
    if config_file is not None:
        return config_file.expanduser(), "--config"
    env = os.environ.get(CONFIG_FILE_ENV)
    if env:
        return Path(env).expanduser(), CONFIG_FILE_ENV
    return user_config_dir() / "monitor.toml", None


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
    path, named_by = _config_path(config_file)
    text = read_config_text(path, named_by)
    if text is None:
        notices.append(f"no settings file at {path}; using defaults")
    toml_data = _TOML_DATA.set(tomllib.loads(text) if text is not None else {})
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(describe_errors(exc, path, text, overrides)) from None
    except SourceError as exc:  # an environment value that is not JSON (MONITOR_UI=notjson)
        raise SettingsError(describe_source_error(exc, _json_env_vars())) from None
    finally:
        _TOML_DATA.reset(toml_data)
    notices.extend(token_file_notices(settings.connection.token_file))
    settings.resolved_token()  # surfaces an unreadable token file now, not at connect time
    return settings, notices

"""The store section of the settings: where the candle store lives and how much it keeps."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from monitor.market.intervals import Interval


def default_store_path() -> Path:
    """`store.sqlite3` in `$XDG_DATA_HOME/monitor` or `~/.local/share/monitor` (candles are data)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "monitor" / "store.sqlite3"


DEFAULT_RETENTION_DAYS: dict[str, int] = {"1m": 90, "2m": 90, "3m": 90, "5m": 365, "10m": 365}
"""Days of candles `monitor store --prune` keeps per interval; intervals not named are kept for ever."""


class StoreSettings(BaseModel):
    """The embedded candle store (monitor/store): where it is and how much it keeps."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=True)
    """Keep candles and instrument metadata between runs (`--no-store` turns it off for one run)."""
    path: Path = Field(default_factory=default_store_path)
    """The SQLite file (`--store PATH`)."""
    retention_days: dict[str, int] = Field(default_factory=lambda: dict(DEFAULT_RETENTION_DAYS))
    """Interval (1m, 1h, 1d…) -> days of candles `monitor store --prune` keeps; 0 keeps all."""

    @field_validator("path")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        # A NUL byte or an unwritable place is found when the store opens, which then runs without it.
        return value.expanduser()

    @field_validator("retention_days")
    @classmethod
    def _check_retention(cls, value: dict[str, int]) -> dict[str, int]:
        for code, days in value.items():
            Interval.parse(code)  # raises ValueError naming the choices
            if not 0 <= days <= 100_000:
                raise ValueError(f"retention for {code} must be 0..100000 days, not {days}")
        return value

    def retention(self) -> dict[Interval, int]:
        """`retention_days` by interval (checked at load, so every key parses)."""
        return {Interval.parse(code): days for code, days in self.retention_days.items()}

"""The `[alerts]` settings: the terminal bell and the desktop notification command."""

from __future__ import annotations

import shlex

from pydantic import BaseModel, ConfigDict, Field, field_validator


class AlertSettings(BaseModel):
    """How a fired alert is delivered beyond the toast and the alert log."""

    model_config = ConfigDict(extra="forbid")

    bell: bool = Field(default=True)
    """Ring the terminal bell when an alert fires."""
    command: list[str] | None = Field(default=None)
    """A desktop notification, run without a shell for every fire: an argv list, or one string
    split like a shell would (`notify-send "{title}" "{body}"`); `{title}`/`{body}` are filled in."""
    command_timeout_s: float = Field(default=5.0, ge=0.1, le=120, allow_inf_nan=False)
    """Seconds the command may run before it is killed, 0.1..120."""

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = shlex.split(value)
            except ValueError as exc:
                raise ValueError(f"cannot split the command: {exc}") from None
        if isinstance(value, list) and not value:
            raise ValueError("the command is empty; leave it out to run none")
        return value

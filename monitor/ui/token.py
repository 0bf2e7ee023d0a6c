"""The token read again when the user asks to reconnect: a fixed token file takes effect at `r`."""

from __future__ import annotations

from monitor.settings import Settings, SettingsError


def reread_token(settings: Settings, mode: str) -> tuple[str | None, str | None]:
    """(the token the settings name now, or None; why it cannot be read, or None).

    The demo's token is the simulator's own, never the user's: nothing to read again. The token
    itself is never part of the message.
    """
    if mode == "DEMO":
        return None, None
    try:
        secret = settings.resolved_token()
    except SettingsError as exc:
        return None, f"{exc}; reconnecting with the token in use"
    return (secret.get_secret_value() if secret is not None else None), None

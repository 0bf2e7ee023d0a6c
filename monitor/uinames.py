"""What the UI answers to, as plain data the settings check at load: key actions, themes, colours."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeyAction:
    """One bindable action; `id` is the name used in `settings.ui.keys`."""

    id: str
    keys: str
    action: str
    description: str
    key_display: str | None = None


KEY_ACTIONS: tuple[KeyAction, ...] = (
    KeyAction("move_down", "down,j", "move(1)", "Next instrument in the watchlist", "↓/j"),
    KeyAction("move_up", "up,k", "move(-1)", "Previous instrument in the watchlist", "↑/k"),
    KeyAction("show", "enter", "show_selected", "Show the selected instrument in the focused panel"),
    *(
        KeyAction(f"jump_{n}", str(n), f"jump({n - 1})", f"Jump to row {n}", "1–9" if n == 1 else None)
        for n in range(1, 10)
    ),
    KeyAction("next_panel", "tab", "next_panel", "Focus the next panel"),
    KeyAction("next_interval", "i", "interval(1)", "Next interval of the focused panel"),
    KeyAction("previous_interval", "I", "interval(-1)", "Previous interval of the focused panel"),
    KeyAction("add", "a", "add", "Search and add an instrument (saved)"),
    KeyAction("remove", "x", "remove", "Remove the selected instrument (saved)"),
    KeyAction("save", "s", "save", "Save the watchlist file"),
    KeyAction("switch", "w", "switch", "Switch watchlist"),
    KeyAction("layout", "l", "layout", "Cycle the panel layout 1 / 1x2 / 2x2 / 3x3"),
    KeyAction("fill", "f", "fill", "Fill empty panels: the list's instruments on other intervals"),
    KeyAction("pause", "p", "pause", "Pause or resume drawing (data keeps flowing)"),
    KeyAction("reconnect", "r", "reconnect", "Reconnect now (restarts a stopped feed)"),
    KeyAction("timezone", "t", "timezone", "Time zone: exchange → local → UTC"),
    KeyAction("cursor_left", "left", "cursor(-1)", "Chart cursor a candle back (into history)", "←"),
    KeyAction("cursor_right", "right", "cursor(1)", "Chart cursor one candle forward", "→"),
    KeyAction("page_left", "shift+left", "page(-1)", "Chart cursor a page back", "Shift+←"),
    KeyAction("page_right", "shift+right", "page(1)", "Chart cursor a page forward", "Shift+→"),
    KeyAction("live", "end,escape", "live", "Chart back to the live edge (cursor off)", "End/Esc"),
    KeyAction("oldest", "home", "oldest", "Chart to the oldest candle held", "Home"),
    KeyAction("zoom_in", "plus,equals_sign", "zoom(-1)", "Zoom the chart in (wider candles)", "+"),
    KeyAction("zoom_out", "minus", "zoom(1)", "Zoom the chart out (more candles per column)", "-"),
    KeyAction("indicators", "o", "indicators", "Indicators of the focused panel (saved)"),
    KeyAction("add_alert", "A", "add_alert", "Add a price alert on the focused panel (saved)"),
    KeyAction("alerts", "L", "alerts", "Alert log: fired alerts; arm, disarm, delete rules"),
    KeyAction("help", "question_mark", "help", "Help", "?"),
    KeyAction("quit", "q", "quit", "Quit"),
    KeyAction("interrupt", "ctrl+c", "interrupt", "Quit from any screen (exit status 130)", "Ctrl+C"),
)

THEMES: tuple[str, ...] = (
    "ansi-dark", "ansi-light", "atom-one-dark", "atom-one-light", "catppuccin-frappe",
    "catppuccin-latte", "catppuccin-macchiato", "catppuccin-mocha", "dracula", "flexoki", "gruvbox",
    "monokai", "nord", "rose-pine", "rose-pine-dawn", "rose-pine-moon", "solarized-dark",
    "solarized-light", "textual-dark", "textual-light", "tokyo-night",
)  # fmt: skip
"""Textual's built-in themes (tests/test_settings.py keeps this list equal to Textual's)."""

# Textual names a few keys by word; the same key written either way is one key.
_KEY_ALIASES = {
    "?": "question_mark", " ": "space", "<": "less_than_sign", ">": "greater_than_sign",
    "+": "plus", "-": "minus", "=": "equals_sign",
}  # fmt: skip


def split_keys(keys: str) -> list[str]:
    """The keys of a binding value (`"down,j"`), each stripped, aliases spelled as Textual does."""
    return [_KEY_ALIASES.get(key, key) for key in (part.strip() for part in keys.split(",")) if key]


def key_errors(overrides: Mapping[str, str]) -> dict[str, str]:
    """action -> what is wrong with its `ui.keys` entry: an unknown action, no key, a key taken twice."""
    known = {item.id: item for item in KEY_ACTIONS}
    errors: dict[str, str] = {}
    for action, keys in overrides.items():
        if action not in known:
            errors[action] = f"unknown action {action!r}; the actions are: {', '.join(known)}"
        elif not split_keys(keys):
            errors[action] = "no key given"
    owner: dict[str, str] = {}
    # Defaults first, then overrides: a clash is reported on the override that caused it.
    ordered = sorted(KEY_ACTIONS, key=lambda item: item.id in overrides)
    for item in ordered:
        for key in split_keys(overrides.get(item.id, item.keys)):
            other = owner.setdefault(key, item.id)
            if other != item.id and item.id not in errors:
                errors[item.id] = (
                    f"key {key!r} is already bound to {other}; give {other} another key in [ui.keys] too"
                )
    return errors


def color_error(value: str) -> str | None:
    """Why `value` is not a colour the panels can draw (Rich's names, #RRGGBB, rgb(r,g,b)); None if it is."""
    # Imported here: Rich is loaded only when a colour is checked, not by `monitor --help`.
    from rich.color import Color, ColorParseError

    try:
        Color.parse(value)
    except ColorParseError:
        return f"{value!r} is not a colour (use a name like green, #RRGGBB or rgb(R,G,B))"
    return None

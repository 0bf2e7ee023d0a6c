"""The key map: every action with its default key(s) and description, overridable by `ui.keys`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType


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
    KeyAction("pause", "p", "pause", "Pause or resume drawing (data keeps flowing)"),
    KeyAction("reconnect", "r", "reconnect", "Reconnect now (restarts a stopped feed)"),
    KeyAction("timezone", "t", "timezone", "Time zone: exchange → local → UTC"),
    KeyAction("help", "question_mark", "help", "Help", "?"),
    KeyAction("quit", "q", "quit", "Quit"),
    KeyAction("interrupt", "ctrl+c", "interrupt", "Quit from any screen (exit status 130)", "Ctrl+C"),
)


def bindings() -> list[BindingType]:
    """Textual bindings for KEY_ACTIONS.

    tab is a priority binding so it never moves focus; Ctrl+C is one so it interrupts from any
    screen, as in every terminal program, instead of Textual's "press Ctrl+Q to quit" hint.
    """
    return [
        Binding(
            item.keys,
            item.action,
            item.description,
            show=False,
            key_display=item.key_display,
            priority=item.id in ("next_panel", "interrupt"),
            id=item.id,
        )
        for item in KEY_ACTIONS
    ]


def key_help(overrides: Mapping[str, str]) -> list[tuple[str, str]]:
    """(keys, description) rows for the help screen, with `ui.keys` overrides applied."""
    rows: list[tuple[str, str]] = []
    for item in KEY_ACTIONS:
        if item.id.startswith("jump_") and item.id != "jump_1" and item.id not in overrides:
            continue
        keys = overrides.get(item.id) or item.key_display or item.keys
        description = (
            "Jump to row 1–9" if item.id == "jump_1" and "jump_1" not in overrides else item.description
        )
        rows.append((keys.replace("question_mark", "?"), description))
    return rows

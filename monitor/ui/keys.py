"""The key map: Textual bindings for the actions of monitor.uinames, overridable by `ui.keys`."""

from __future__ import annotations

from collections.abc import Mapping

from textual.binding import Binding, BindingType

from monitor.uinames import KEY_ACTIONS

__all__ = ["KEY_ACTIONS", "bindings", "key_help"]


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

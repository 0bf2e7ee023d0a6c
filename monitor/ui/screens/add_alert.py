"""The add-alert modal: a level and above/below/crosses for the focused panel's instrument."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from monitor.alerts import RuleError, parse_when
from monitor.ui.screens.modal import Modal

DIRECTIONS = ("above", "below", "crosses")


class AddAlertScreen(Modal[str | None]):
    """Type a level, ↑/↓ picks the direction, Enter adds `price DIRECTION LEVEL`, Escape cancels.

    The result is the rule's `when` text; a level that is not a number keeps the dialog open
    with the reason.
    """

    DEFAULT_CSS = """
    AddAlertScreen { align: center middle; }
    AddAlertScreen > Vertical {
        width: 60; height: auto; border: round $accent; background: $surface; padding: 0 1;
    }
    AddAlertScreen OptionList { height: auto; }
    AddAlertScreen #alert-status { color: $text-muted; }
    AddAlertScreen #alert-status.-error { color: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Next direction", show=False),
        Binding("up", "move(-1)", "Previous direction", show=False),
    ]

    def __init__(self, instrument: str, level: str, direction: str = "above") -> None:
        super().__init__()
        self.instrument = instrument
        self.level = level
        self.direction = direction if direction in DIRECTIONS else "above"

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Alert on {self.instrument}: the last price goes", markup=False)
            directions = OptionList(*(Option(name, id=name) for name in DIRECTIONS), id="alert-direction")
            directions.highlighted = DIRECTIONS.index(self.direction)
            directions.can_focus = False  # typing stays in the level; ↑/↓ move the choice
            yield directions
            yield Input(value=self.level, placeholder="level, e.g. 354.5", id="alert-level")
            yield Label("↑/↓ direction · Enter add (saved) · Esc cancel", id="alert-status")

    def on_mount(self) -> None:
        self.query_one("#alert-level", Input).focus()

    @property
    def when(self) -> str:
        """The rule text the dialog shows now."""
        options = self.query_one("#alert-direction", OptionList)
        direction = DIRECTIONS[options.highlighted or 0]
        return f"price {direction} {self.query_one('#alert-level', Input).value.strip()}"

    def action_move(self, step: int) -> None:
        options = self.query_one("#alert-direction", OptionList)
        options.highlighted = ((options.highlighted or 0) + step) % len(DIRECTIONS)

    @on(Input.Submitted, "#alert-level")
    def submitted(self) -> None:
        when = self.when
        try:
            parse_when(when)
        except RuleError:
            status = self.query_one("#alert-status", Label)
            status.update("The level must be a number, e.g. 354.5")
            status.add_class("-error")
            return
        self.dismiss(when)

    def action_cancel(self) -> None:
        self.dismiss(None)

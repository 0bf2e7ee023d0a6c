"""The indicator picker: which indicators the focused panel shows, toggled or typed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from monitor.market.indicators import KINDS, IndicatorSpec, IndicatorSpecError, default_spec, parse_indicator
from monitor.ui.screens.modal import Modal

HINT = "enter/space toggle · tab type one (e.g. sma 30) · s save · esc cancel"


class IndicatorPicker(Modal[tuple[IndicatorSpec, ...] | None]):
    """Lists every indicator kind (with its default parameters) and the panel's own specs, marks
    the ones on, and dismisses with the chosen specs in the order they were turned on (None on esc)."""

    DEFAULT_CSS = """
    IndicatorPicker { align: center middle; }
    IndicatorPicker > Vertical {
        width: 56; height: auto; max-height: 26; border: round $accent; background: $surface; padding: 0 1;
    }
    IndicatorPicker OptionList { height: auto; max-height: 16; }
    IndicatorPicker #indicator-error { color: $error; }
    IndicatorPicker #indicator-hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("space", "toggle_highlighted", "Toggle", show=False),
        Binding("s", "save", "Save"),
    ]

    def __init__(self, current: Sequence[IndicatorSpec], title: str = "Indicators") -> None:
        super().__init__()
        self.title_text = title
        self.chosen: list[IndicatorSpec] = list(dict.fromkeys(current))
        """What is on, in the order it was turned on."""
        self.rows: list[IndicatorSpec] = []
        for kind in KINDS:
            self.rows.append(default_spec(kind))
            self.rows += [spec for spec in self.chosen if spec.kind == kind and spec != self.rows[-1]]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text, id="indicator-title", markup=False)
            yield OptionList(*(Option(self._prompt(spec)) for spec in self.rows), id="indicator-list")
            yield Input(placeholder="type an indicator, e.g. sma 30, and press enter", id="indicator-input")
            yield Label("", id="indicator-error", markup=False)
            yield Label(HINT, id="indicator-hint")

    @property
    def options(self) -> OptionList:
        return self.query_one("#indicator-list", OptionList)

    @property
    def error(self) -> str:
        """The inline error shown under the input ("" when there is none)."""
        return str(self.query_one("#indicator-error", Label).content)

    def _prompt(self, spec: IndicatorSpec) -> Text:
        on_ = spec in self.chosen
        where = "pane under volume" if spec.pane else "over the candles"
        return Text.assemble(
            ("● " if on_ else "○ ", "bold" if on_ else ""),
            (f"{spec.label:<14}", "bold" if on_ else ""),
            (where, "dim"),
        )

    def _toggle(self, spec: IndicatorSpec) -> None:
        if spec in self.chosen:
            self.chosen.remove(spec)
        else:
            self.chosen.append(spec)
        self.options.replace_option_prompt_at_index(self.rows.index(spec), self._prompt(spec))

    def _show_error(self, message: str) -> None:
        self.query_one("#indicator-error", Label).update(message)

    @on(OptionList.OptionSelected, "#indicator-list")
    def selected(self, event: OptionList.OptionSelected) -> None:
        self._toggle(self.rows[event.option_index])

    def action_toggle_highlighted(self) -> None:
        index = self.options.highlighted
        if index is not None and self.focused is self.options:
            self._toggle(self.rows[index])

    @on(Input.Submitted, "#indicator-input")
    def typed(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.options.focus()
            return
        try:
            spec = parse_indicator(text)
        except IndicatorSpecError as exc:
            self._show_error(str(exc))
            return
        self._show_error("")
        event.input.value = ""
        if spec not in self.rows:
            self.rows.append(spec)
            self.options.add_option(Option(self._prompt(spec)))
        if spec not in self.chosen:
            self._toggle(spec)
        self.options.highlighted = self.rows.index(spec)

    def action_save(self) -> None:
        self.dismiss(tuple(self.chosen))

    def action_cancel(self) -> None:
        self.dismiss(None)

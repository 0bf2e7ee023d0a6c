"""The alert log: what fired this run (time, value, offline) and every rule, to arm, disarm or delete."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from monitor.alerts import AlertFired, RuleStatus
from monitor.ui.screens.modal import Modal

if TYPE_CHECKING:
    from monitor.ui.alerting import AlertDelivery

NO_FIRES = "Nothing fired yet in this run."
NO_RULES = "No alert rules: A adds one on the focused panel, or write them in the watchlist file."


def fire_line(fired: AlertFired, shown: str, tz: tzinfo) -> Text:
    """One fired alert: local time, rule, value, offline mark and note."""
    when = datetime.fromtimestamp(fired.time, tz).strftime("%Y-%m-%d %H:%M:%S")
    line = Text(no_wrap=True)
    line.append(f"{when}  ", "dim")
    line.append(f"{fired.title}  ", "bold")
    line.append(shown)
    if fired.offline:
        line.append("  while offline", "yellow")
    if fired.rule.note:
        line.append(f"  — {fired.rule.note}", "dim")
    return line


def rule_line(status: RuleStatus, shown: str | None) -> Text:
    """One rule: armed or not, its text and mode, how often it fired (`shown`: the last value), whether
    its instrument is known."""
    rule = status.rule
    line = Text(no_wrap=True)
    line.append("● armed    " if status.armed else "○ disarmed ", "green" if status.armed else "dim")
    line.append(f"{rule.instrument} {rule.when}", "bold")
    line.append(f"  {rule.mode}  fired {status.fired}")
    if status.last is not None:
        line.append(f" (last {shown} at {status.last.iso_time})", "dim")
    if not status.resolved:
        line.append("  instrument not known yet", "yellow")
    return line


class AlertLogScreen(Modal[None]):
    """Fired alerts (newest first) over the rules list; Space arms/disarms, d twice deletes."""

    DEFAULT_CSS = """
    AlertLogScreen { align: center middle; }
    AlertLogScreen > Vertical {
        width: 90%; height: 90%; border: round $accent; background: $surface; padding: 0 1;
    }
    AlertLogScreen #alert-fires { height: 1fr; }
    AlertLogScreen #alert-rules { height: 1fr; }
    AlertLogScreen .heading { text-style: bold; margin-top: 1; }
    AlertLogScreen #alert-help { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("space", "switch_armed", "Arm/disarm"),
        Binding("d,delete", "delete", "Delete"),
    ]

    def __init__(self, delivery: AlertDelivery, tz: tzinfo) -> None:
        super().__init__()
        self.delivery = delivery
        self.tz = tz
        self.ids: list[str] = []
        self._delete_asked: str | None = None
        self._fired = Text()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("Fired this run (newest first)", classes="heading")
            with VerticalScroll(id="alert-fires"):
                yield Static(id="alert-fired")
            yield Label("Rules", classes="heading")
            yield OptionList(id="alert-rules", markup=False)
            yield Label("↑/↓ choose · Space arm/disarm · d d delete (saved) · Esc close", id="alert-help")

    def on_mount(self) -> None:
        self.delivery.seen()
        self.refresh_lists()
        self.query_one("#alert-rules", OptionList).focus()

    @property
    def fired_text(self) -> str:
        """What the fired list shows, as plain text."""
        return self._fired.plain

    def refresh_lists(self) -> None:
        """Shows the fires and the rules as they stand now (the highlighted rule stays)."""
        delivery = self.delivery
        fires = [fire_line(f, delivery.shown(f), self.tz) for f in reversed(delivery.engine.recent)]
        self._fired = Text("\n").join(fires) if fires else Text(NO_FIRES, "dim")
        self.query_one("#alert-fired", Static).update(self._fired)
        options = self.query_one("#alert-rules", OptionList)
        highlighted = options.highlighted
        statuses = delivery.engine.statuses()
        self.ids = [status.rule.id for status in statuses]
        options.clear_options()
        if statuses:
            lines = [rule_line(s, delivery.shown(s.last) if s.last else None) for s in statuses]
            options.add_options([Option(line, id=s.rule.id) for line, s in zip(lines, statuses, strict=True)])
            options.highlighted = min(highlighted or 0, len(statuses) - 1)
        else:
            options.add_option(Option(NO_RULES, disabled=True))

    def _chosen(self) -> str | None:
        index = self.query_one("#alert-rules", OptionList).highlighted
        return self.ids[index] if index is not None and index < len(self.ids) else None

    def action_switch_armed(self) -> None:
        rule_id = self._chosen()
        if rule_id is None:
            return
        engine = self.delivery.engine
        armed = next((s.armed for s in engine.statuses() if s.rule.id == rule_id), False)
        if armed:
            engine.disarm(rule_id)
        else:
            engine.arm(rule_id)
        self._delete_asked = None
        self.refresh_lists()

    def action_delete(self) -> None:
        rule_id = self._chosen()
        if rule_id is None:
            return
        if self._delete_asked != rule_id:
            self._delete_asked = rule_id
            self.query_one("#alert-help", Label).update(f"Press d again to delete {rule_id}")
            return
        self._delete_asked = None
        problem = self.delivery.remove(rule_id)
        if problem is not None:
            self.notify(problem, severity="error", markup=False)
        self.refresh_lists()

    def action_close(self) -> None:
        self.dismiss(None)

"""Alerts in the TUI: the engine on the app's feed, and each fire as a toast, a bell, a command, marks."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from monitor.alerts import AlertEngine, AlertFired, AlertRule, AlertState, RuleError, make_rule
from monitor.alerts.command import AlertCommand
from monitor.alerts.indicator import book_indicator
from monitor.market import WatchKey
from monitor.market.indicators import IndicatorBook
from monitor.ui.model import Edit
from monitor.ui.render.scale import decimals_for, format_price
from monitor.ui.screens.alerts import AlertLogScreen
from monitor.watchlist import AddAlert, RemoveAlert, WatchlistError, apply_change
from monitor.watchlist.model import entry_interval

if TYPE_CHECKING:
    from monitor.ui.app import MonitorApp

MARK = "⚑"
TOAST_TIMEOUT_S = 12.0


class AlertActions:
    """The app's alert keys (a mixin of MonitorApp, like its chart actions)."""

    alerting: AlertDelivery

    def action_add_alert(self) -> None:
        self.alerting.open_add()

    def action_alerts(self) -> None:
        self.alerting.open_log()


class AlertDelivery:
    """Created by the app on mount: owns the engine and tells the user of every fire.

    A fire is *unseen* until the alert log is opened: the panel and the watchlist row of its
    series carry the mark until then, so an alert that fired while the user looked away stays
    visible after its toast is gone.
    """

    def __init__(self, app: MonitorApp, state: AlertState | None = None) -> None:
        self.app = app
        self.indicators: IndicatorBook = app.indicators
        """The chart's book (one computation): SMA/EMA values for `close above sma N` rules."""
        self.state = state if state is not None else AlertState.for_watchlist(app.watchlist_path)
        self.engine = AlertEngine(
            app.model.file.alerts, self.state, indicator=book_indicator(self.indicators)
        )
        self._rules = app.model.file.alerts
        settings = app.settings.alerts
        self.command = (
            AlertCommand(settings.command, settings.command_timeout_s, self._warn)
            if settings.command
            else None
        )
        self.unseen: dict[WatchKey, AlertFired] = {}
        """The latest fire per series not yet seen in the alert log (what the marks show)."""

    def start(self) -> None:
        """Listens to the app's feed; reports a state file that could not be read."""
        # The app feeds the book from a candle listener added before this one: it notes first.
        self.engine.attach(self.app.feed)
        self.engine.add_listener(self._fired)
        if self.state.notice:
            self._warn(self.state.notice)

    def sync(self) -> None:
        """Follows the watchlist's rules after a reload or a save (kept rules keep their state)."""
        rules = self.app.model.file.alerts
        if rules != self._rules:
            self._rules = rules
            self.engine.set_rules(rules)
            ids = {rule.key for rule in rules}
            self.unseen = {key: fired for key, fired in self.unseen.items() if key in ids}

    def flush(self) -> None:
        """Saves the rules' state (on exit)."""
        self.engine.flush()

    # ------------------------------------------------------------------ marks

    def marks(self, key: WatchKey | None) -> str:
        """A panel's mark: `⚑ 354.50` when a rule on its series fired unseen, else ""."""
        fired = self.unseen.get(key) if key is not None else None
        return f"{MARK} {self.shown(fired)}" if fired is not None else ""

    def row_mark(self, key: WatchKey) -> str:
        """A watchlist row's mark: `⚑` when a rule on its series fired unseen, else ""."""
        return MARK if key in self.unseen else ""

    def seen(self) -> None:
        """The user opened the alert log: the marks go."""
        self.unseen.clear()
        self.app.dirty = True

    def shown(self, fired: AlertFired) -> str:
        """The fired value as the screen prints it: a price at its step, a change in %, a volume."""
        subject = fired.rule.condition.subject
        if subject == "change":
            return f"{fired.value:+.2f}%"
        if subject == "volume":
            return f"vol {fired.value:,.0f}".replace(",", " ")
        found = self.app.feed.instrument(fired.rule.instrument)
        step = float(found.price_step) if found is not None else None
        return format_price(fired.value, decimals_for(step, fired.value), grouped=True)

    # ------------------------------------------------------------------ delivery

    def _fired(self, fired: AlertFired) -> None:
        app = self.app
        self.unseen[fired.rule.key] = fired
        app.dirty = True
        offline = " (while offline)" if fired.offline else ""
        note = f" — {fired.rule.note}" if fired.rule.note else ""
        app.notify(
            f"{self.shown(fired)} at {fired.iso_time}{offline}{note}",
            title=f"{MARK} {fired.title}",
            severity="warning",
            timeout=TOAST_TIMEOUT_S,
            markup=False,
        )
        if app.settings.alerts.bell:
            app.bell()
        top = app.screen_stack[-1] if app.screen_stack else None  # none while the app winds down
        if isinstance(top, AlertLogScreen):
            top.refresh_lists()  # the log is open: the fire shows there at once, already seen
            self.seen()
        if self.command is not None:
            self.command.run(fired.title, fired.body)

    def _warn(self, text: str) -> None:
        self.app.notify(text, severity="error", timeout=TOAST_TIMEOUT_S, markup=False)

    # ------------------------------------------------------------------ editing the rules

    def prefill(self, key: WatchKey, panel: int) -> float | None:
        """The price a new alert on `key` starts at: the chart cursor's candle close, else the last price."""
        view = self.app.feed.view(key)
        series = view.series
        cursor = self.app.model.charts.get(panel, key).cursor
        if cursor is not None and series is not None:
            index = series.index_of(cursor)
            if index < len(series):
                return series.window(index, index + 1)[0].close
        if view.quote is not None and view.quote.price is not None:
            return view.quote.price
        last = series.last() if series is not None else []
        return last[0].close if last else None

    def add(self, key: WatchKey, when: str) -> str | None:
        """Adds rule `when` on `key` to the list on screen and saves it; the reason when it cannot."""
        model = self.app.model
        current = model.current
        interval_given = entry_interval(current.entries, key.id) != key.interval
        try:
            rule = make_rule(key.id, when, key.interval, interval_given=interval_given)
            return self._commit(AddAlert(current.name, rule), f"Alert added: {rule.id} (saved)")
        except RuleError as exc:
            return str(exc)

    def remove(self, rule_id: str) -> str | None:
        """Deletes rule `rule_id` from its list and saves it; the reason when it cannot."""
        for item in self.app.model.file.lists:
            if any(rule.id == rule_id for rule in item.alerts):
                return self._commit(RemoveAlert(item.name, rule_id), f"Alert removed: {rule_id} (saved)")
        return f"no alert {rule_id!r}"

    def _commit(self, change: AddAlert | RemoveAlert, notice: str) -> str | None:
        model = self.app.model
        try:
            model.reload(apply_change(model.file, change))
        except WatchlistError as exc:
            return str(exc)
        self.sync()
        self.app.show_model(Edit(changes=(change,), notice=notice))
        return None

    def rules(self) -> tuple[AlertRule, ...]:
        """Every rule of the file, in file order."""
        return self._rules

    # ------------------------------------------------------------------ the screens

    def open_add(self) -> None:
        """The add-alert dialog for the focused panel's instrument (the app's add-alert key)."""
        from monitor.ui.screens.add_alert import AddAlertScreen

        model = self.app.model
        key = model.panel(model.focused_panel)
        if key is None:
            self.app.notify("Show an instrument in this panel first (select a row, Enter).")
            return
        price = self.prefill(key, model.focused_panel)
        found = self.app.feed.instrument(key.id)
        step = float(found.price_step) if found is not None else None
        level = format_price(price, decimals_for(step, price or 0.0)) if price is not None else ""
        quote = self.app.feed.view(key).quote
        last = quote.price if quote is not None else None
        direction = "below" if price is not None and last is not None and price < last else "above"
        self.app.push_screen(AddAlertScreen(key.id, level, direction), partial(self._added, key))

    def _added(self, key: WatchKey, when: str | None) -> None:
        if when is not None and (problem := self.add(key, when)) is not None:
            self._warn(problem)

    def open_log(self) -> None:
        """The alert log with the rules list (the app's alert-log key)."""
        self.app.push_screen(AlertLogScreen(self, self.app.model.tz))

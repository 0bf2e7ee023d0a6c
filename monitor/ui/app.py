"""The monitor app: composes the screen, runs the feed worker and redraws on a coalescing tick."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from textual import events, work
from textual.app import ComposeResult, SystemCommand
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.theme import Theme
from textual.worker import Worker, WorkerState

from monitor.clock import Clock, SystemClock
from monitor.exits import CLOSE_TIMEOUT_S, EXIT_INTERRUPTED, EXIT_OK
from monitor.feed import FeedLike, WatchView
from monitor.market import Instrument, WatchKey
from monitor.market.indicators import IndicatorBook
from monitor.settings import Settings
from monitor.ui.alerting import AlertActions, AlertDelivery
from monitor.ui.chart_actions import ChartActions
from monitor.ui.drawing import draw_panels, draw_sidebar
from monitor.ui.file_events import FILE_GROUP, WatchlistFileEvents
from monitor.ui.gcpolicy import CHECK_EVERY_S, GcPolicy
from monitor.ui.keys import bindings, key_help
from monitor.ui.model import LAYOUT_PANELS, MAX_PANELS, Edit, MonitorModel
from monitor.ui.notices import LogNotice, channel_banner
from monitor.ui.render.base import ChartStyle, Renderer
from monitor.ui.render.cells import forget_styles
from monitor.ui.screens.palette import PaletteApp, palette_commands
from monitor.ui.theme import chart_style
from monitor.ui.token import reread_token
from monitor.ui.watchfile import WatchlistSaver
from monitor.ui.widgets import Banner, CandlePanel, StatusBar, WatchlistSidebar
from monitor.ui.widgets.status_bar import StatusInfo, bad_messages_detail, banner_text, status_text
from monitor.watchlist import Watchlists

FEED_GROUP = "feed"
SAVE_GROUP = "watchlist-save"


class MonitorApp(ChartActions, AlertActions, WatchlistFileEvents, PaletteApp):
    """The live market monitor. Widgets own no market state: the render tick reads the feed.

    What the screen shows is `model` (a MonitorModel); the actions here only forward keys to it,
    then redraw, re-subscribe and save what it changed.
    """

    CSS_PATH = "monitor.tcss"
    TITLE = "monitor"
    BINDINGS = bindings()

    def __init__(
        self,
        settings: Settings,
        watchlists: Watchlists,
        watchlist_path: Path,
        feed: FeedLike,
        clock: Clock | None = None,
        *,
        renderer: Renderer | None = None,
        template_path: Path | None = None,
        watch_file: bool = True,
        search_debounce: float = 0.25,
    ) -> None:
        super().__init__()
        self.settings = settings
        self.model = MonitorModel(watchlists, settings.ui.timezone)
        self.watchlist_path = watchlist_path
        self.feed = feed
        self.clock: Clock = clock or SystemClock()
        self.renderer = renderer if renderer is not None else _default_renderer(settings.ui.renderer)
        self.chart_style = ChartStyle(up=settings.ui.up_color, down=settings.ui.down_color)
        """The panels' colours; derived from the theme once mounted and again on each theme change."""
        self.watch_file = watch_file
        self.search_debounce = search_debounce
        self.saver = WatchlistSaver(watchlist_path, template_path, self.post_message)
        """Copies `template_path` to `watchlist_path` before the first save when that file is missing."""
        self.dirty = True
        """Set by the feed listener; the render tick clears it. Never touches widgets."""
        self._watched: list[WatchKey] = []
        self._last_tick: tuple[object, ...] | None = None
        self.gc_policy = GcPolicy()  # full collections out of frames (see its docstring)
        self.panel_widgets: list[CandlePanel] = []
        self.sidebar: WatchlistSidebar
        self.status_bar: StatusBar
        self.banner: Banner
        self.grid: Grid
        self.log_notice = LogNotice(partial(self.notify, severity="warning", timeout=20))
        self.store_status: Callable[[], str | None] = lambda: None
        """Why the store is off, when it is (the commands set it): shown on the status bar."""
        self.set_keymap(dict(settings.ui.keys))
        feed.add_listener(self._feed_changed)
        self.indicators = IndicatorBook()
        """The panels' indicator lines, noted per streamed candle (recomputed only from a change)."""
        feed.add_candle_listener(self.indicators.on_candle)
        self.alerting = AlertDelivery(self)

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield WatchlistSidebar(
                up_color=self.settings.ui.up_color, down_color=self.settings.ui.down_color, id="sidebar"
            )
            with Vertical(id="right"):
                yield Banner(id="banner")
                with Grid(id="panels"):
                    for i in range(MAX_PANELS):
                        yield CandlePanel(
                            self.renderer, self.chart_style, indicators=self.indicators, id=f"panel-{i}"
                        )
        yield StatusBar(id="status")

    def on_mount(self) -> None:
        # Kept as references: queries fail once the screen is torn down, and timers may still fire.
        self.panel_widgets = list(self.query(CandlePanel))
        self.sidebar = self.query_one(WatchlistSidebar)
        self.status_bar = self.query_one(StatusBar)
        self.banner = self.query_one(Banner)
        self.grid = self.query_one("#panels", Grid)
        if self.settings.ui.theme in self.available_themes:
            self.theme = self.settings.ui.theme
        self.apply_theme_colors()
        # Colours are recomputed here, once per theme change, never on a frame.
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.alerting.start()
        self.show_model()
        self.run_feed()
        self.run_worker(self.saver.run(), group=SAVE_GROUP, exit_on_error=False, description="Saving")
        if self.watch_file:
            self.watch_watchlist_file()
        self.set_interval(1 / self.settings.ui.refresh_hz, self.render_tick)
        self.set_interval(CHECK_EVERY_S, self.gc_policy.when_idle)  # full passes between frames
        self.render_tick()

    def on_unmount(self) -> None:
        self.gc_policy.stop()  # the collector's thresholds as they were

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.gc_policy.note_input()  # the user is busy: no idle full pass now
        await super().on_event(event)

    def _theme_changed(self, _theme: Theme) -> None:
        self.apply_theme_colors()

    def apply_theme_colors(self) -> None:
        """Derives the chart colours from the current theme; panels repaint if they changed."""
        style = chart_style(self.get_css_variables(), self.settings.ui)
        self.sidebar.set_colors(style.up, style.down)
        if style == self.chart_style:
            return
        self.chart_style = style
        forget_styles()
        for panel in self.panel_widgets:
            panel.set_chart_style(style)

    def show_model(self, edit: Edit | None = None) -> None:
        """Shows the model's layout and panels, streams what they need, and saves an edit."""
        layout, count = self.model.current.layout, self.model.panel_count
        for name in LAYOUT_PANELS:
            self.grid.set_class(name == layout, f"layout-{name}")
        for i, panel in enumerate(self.panel_widgets):
            panel.display = i < count
        self._show_focus()
        self.update_watch()
        self.refresh_now()
        if edit is not None and (edit.warning or edit.info):
            self.notify(edit.warning or edit.info, severity="warning" if edit.warning else "information")
        if edit is not None and edit.changed:
            self.saver.request(edit.changes, self.model.file, edit.notice)

    def _show_focus(self) -> None:
        for i, panel in enumerate(self.panel_widgets):
            panel.set_class(i == self.model.focused_panel, "-focused")

    def update_watch(self) -> None:
        """Tells the feed the desired series when they changed (it diffs and subscribes the rest)."""
        keys = self.model.watch_keys()
        if keys != self._watched:
            self._watched = keys
            self.feed.watch(keys)

    # ------------------------------------------------------------------ feed

    def _feed_changed(self) -> None:
        # Runs inside the feed's receive loop: only flags, no widget work (the tick does that).
        self.dirty = True
        self.model.feed_changed()

    @work(exclusive=True, group=FEED_GROUP, exit_on_error=False, description="Streaming market data")
    async def run_feed(self) -> None:
        await self.feed.run()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures land: a dead feed shows DOWN with its reason."""
        worker = event.worker
        if worker.group != FEED_GROUP:
            if event.state is WorkerState.ERROR and worker.group in (FILE_GROUP, SAVE_GROUP):
                self.notify(f"{worker.description} stopped: {worker.error}", severity="warning")
            return
        if event.state is WorkerState.RUNNING:
            self.model.feed_down = None
        elif event.state is WorkerState.ERROR:
            error = worker.error
            self.model.feed_down = f"{type(error).__name__}: {error}" if error else "unknown error"
            self.log.error("feed worker failed", error=repr(error))
            self.notify(
                f"Feed stopped: {self.model.feed_down}. Press r to restart.", severity="error", timeout=10
            )
        elif event.state is WorkerState.SUCCESS and not self._exit:
            self.model.feed_down = "the feed ended"
        self.dirty = True
        if not self._exit:
            self.render_tick()

    def feed_worker_alive(self) -> bool:
        return any(w.group == FEED_GROUP and not w.is_finished for w in self.workers)

    def action_reconnect(self) -> None:
        """Restarts a dead feed worker; otherwise asks the live feed to reconnect at once."""
        if self.model.feed_down is not None or not self.feed_worker_alive():
            self.model.feed_down = None
            self.run_feed()
            self.notify("Restarting the feed…")
        else:
            token, problem = reread_token(self.settings, self.feed.health.mode)
            if problem is not None:
                self.notify(problem, severity="error")
            self.feed.reconnect_now(token)
            self.notify("Reconnecting now…")
        self.dirty = True

    # ------------------------------------------------------------------ drawing

    def render_tick(self) -> None:
        """Coalesces every change since the last tick into one redraw of what moved."""
        model, now, health = self.model, self.clock.now(), self.feed.health
        info = StatusInfo(
            model.paused, model.pending, model.feed_down, model.timezone, store=self.store_status()
        )
        self.status_bar.show(self.log_notice.mark(status_text(health, info, now, model.tz)))
        self.status_bar.show_health(health)
        if model.paused:
            return
        # Ages on badges move once a second, so the second is part of what can change.
        signature = (self.feed.book.version, health.version, int(now), model.feed_down, model.timezone)
        if not self.dirty and signature == self._last_tick:
            return
        self.dirty, self._last_tick = False, signature
        views = {key: self.feed.view(key) for key in self._watched}
        sandbox = self.settings.connection.sandbox
        self.banner.show(
            banner_text(health, info, now, sandbox, tuple(views.values())) or channel_banner(health)
        )
        self._draw_sidebar(views)
        draw_panels(self.panel_widgets, model, self.feed, views, now, self.alerting.marks)
        self.gc_policy.after_tick(view.series for view in views.values())

    def _draw_sidebar(self, views: dict[WatchKey, WatchView] | None = None) -> None:
        draw_sidebar(
            self.sidebar,
            self.model,
            self.feed,
            views or {},
            self.feed.health,
            self.clock.now(),
            self.alerting.row_mark,
        )

    def refresh_now(self) -> None:
        """Redraws at once (after a key) instead of waiting for the next tick."""
        self.dirty = True
        self.render_tick()

    # ------------------------------------------------------------------ actions

    def action_move(self, step: int) -> None:
        self.model.move(step)
        self._draw_sidebar()

    def action_jump(self, index: int) -> None:
        self.model.jump(index)
        self._draw_sidebar()

    def action_show_selected(self) -> None:
        if self.model.show_selected():
            self.update_watch()
            self.refresh_now()

    def action_next_panel(self) -> None:
        self.model.next_panel()
        self._show_focus()

    def action_pause(self) -> None:
        self.model.toggle_pause()
        self.refresh_now()

    def action_timezone(self) -> None:
        self.model.cycle_timezone()
        self.refresh_now()

    def action_interval(self, step: int) -> None:
        self.show_model(self.model.change_interval(step))

    def action_layout(self) -> None:
        self.show_model(self.model.cycle_layout())

    def action_remove(self) -> None:
        self.show_model(self.model.remove())

    def action_add(self) -> None:
        from monitor.ui.screens import SearchScreen

        self.push_screen(SearchScreen(self.feed.search, debounce=self.search_debounce), self._add)

    def _add(self, instrument: Instrument | None) -> None:
        if instrument is not None:
            self.show_model(self.model.add(instrument))

    def action_switch(self) -> None:
        from monitor.ui.screens import WatchlistSwitcher

        names = [item.name for item in self.model.watchlists.lists]
        self.push_screen(WatchlistSwitcher(names, self.model.current.name), self._switch)

    def _switch(self, name: str | None) -> None:
        self.show_model(self.model.switch(name))

    def action_save(self) -> None:
        self.saver.request(self.model.save_view(), self.model.file, f"Saved {self.watchlist_path}")

    def action_help(self) -> None:
        from monitor.ui.screens import HelpScreen

        detail = bad_messages_detail(self.feed.health)
        self.push_screen(HelpScreen(key_help(self.settings.ui.keys), detail))

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from palette_commands(
            super().get_system_commands(screen), self.settings.ui.keys, self.run_action
        )

    # ------------------------------------------------------------------ quitting

    async def action_quit(self) -> None:
        await self.shutdown(EXIT_OK)

    async def action_interrupt(self) -> None:
        await self.shutdown(EXIT_INTERRUPTED)

    async def shutdown(self, return_code: int) -> None:
        """Exits with `return_code` once pending saves landed and the feed closed (at most CLOSE_TIMEOUT_S).

        q, Ctrl+C and the CLI's signals all end here; later calls do nothing.
        """
        if self._exit:
            return
        self.alerting.flush()
        closing = [asyncio.ensure_future(self.saver.drain()), asyncio.ensure_future(self.feed.close())]
        _done, late = await asyncio.wait(closing, timeout=CLOSE_TIMEOUT_S)
        for task in late:
            self.log.warning("quitting without waiting any longer", task=repr(task))
            task.cancel()
        self.exit(return_code, return_code=return_code)


def _default_renderer(name: str) -> Renderer:
    from monitor.ui.render import get_renderer

    return get_renderer(name)


make_app = MonitorApp
"""Builds the app: `make_app(settings, watchlists, watchlist_path, feed, clock, *, renderer=None,
template_path=None, watch_file=True, search_debounce=0.25)`; the CLI and the tests come through here."""

"""The monitor app: composes the screen, runs the feed worker and redraws on a coalescing tick."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import tzinfo
from functools import partial
from pathlib import Path

from textual import on, work
from textual.app import App, ComposeResult, SystemCommand
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import Screen
from textual.theme import Theme
from textual.worker import Worker, WorkerState

from monitor.clock import Clock, SystemClock
from monitor.feed.api import FeedLike
from monitor.market import SeriesKey, TradingPhase, WatchKey
from monitor.settings import Settings
from monitor.ui.editing import WatchlistEditing
from monitor.ui.keys import KEY_ACTIONS, bindings
from monitor.ui.messages import WatchlistReloaded, WatchlistReloadFailed
from monitor.ui.quitting import Quitting
from monitor.ui.render.base import ChartStyle, Renderer
from monitor.ui.render.cells import forget_styles
from monitor.ui.state import LAYOUT_PANELS, MAX_PANELS, assign_panels, format_price, timezone_for, watch_keys
from monitor.ui.theme import chart_style
from monitor.ui.widgets import Banner, CandlePanel, PanelView, Row, StatusBar, WatchlistSidebar
from monitor.ui.widgets.badge import MUTED, Badge, panel_badge, row_level
from monitor.ui.widgets.status_bar import StatusInfo, bad_messages_detail, banner_text, status_text
from monitor.watchlist import Watchlists, load_watchlists

FEED_GROUP = "feed"
PHASE_LABELS = {TradingPhase.TRADING: "open", TradingPhase.LIMITED: "auct", TradingPhase.CLOSED: "closed"}


class MonitorApp(WatchlistEditing, Quitting, App[int]):
    """The live market monitor. Widgets own no market state: the render tick reads the feed."""

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
        self.watchlists = watchlists
        self.watchlist_path = watchlist_path
        self.template_path = template_path
        """Copied to `watchlist_path` before the first save when that file does not exist yet."""
        self.feed = feed
        self.clock: Clock = clock or SystemClock()
        self.renderer = renderer if renderer is not None else _default_renderer(settings.ui.renderer)
        self.chart_style = ChartStyle(up=settings.ui.up_color, down=settings.ui.down_color)
        """The panels' colours; derived from the theme once mounted and again on each theme change."""
        self.watch_file = watch_file
        self.search_debounce = search_debounce
        self.timezone: str = settings.ui.timezone
        self.paused = False
        self.pending = 0
        """Feed updates that arrived while paused."""
        self.dirty = True
        """Set by the feed listener; the render tick clears it. Never touches widgets."""
        self.feed_down: str | None = None
        """Why the feed worker died, while it is dead."""
        self.selected = 0
        self.focused_panel = 0
        self.panels: list[WatchKey | None] = []
        self._watched: list[WatchKey] = []
        self._last_tick: tuple[object, ...] | None = None
        self.panel_widgets: list[CandlePanel] = []
        self.sidebar: WatchlistSidebar
        self.status_bar: StatusBar
        self.banner: Banner
        self.grid: Grid
        self.set_keymap(dict(settings.ui.keys))
        feed.add_listener(self._feed_changed)

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
                        yield CandlePanel(self.renderer, self.chart_style, id=f"panel-{i}")
        yield StatusBar(id="status")

    def _bind_widgets(self) -> None:
        # Kept as references: queries fail once the screen is torn down, and timers may still fire.
        self.panel_widgets = list(self.query(CandlePanel))
        self.sidebar = self.query_one(WatchlistSidebar)
        self.status_bar = self.query_one(StatusBar)
        self.banner = self.query_one(Banner)
        self.grid = self.query_one("#panels", Grid)

    def on_mount(self) -> None:
        self._bind_widgets()
        if self.settings.ui.theme in self.available_themes:
            self.theme = self.settings.ui.theme
        self.apply_theme_colors()
        # Colours are recomputed here, once per theme change, never on a frame.
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self.apply_watchlist(reset_panels=True)
        self.run_feed()
        if self.watch_file:
            self.watch_watchlist_file()
        self.set_interval(1 / self.settings.ui.refresh_hz, self.render_tick)
        self.render_tick()

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

    def apply_watchlist(self, *, reset_panels: bool = False) -> None:
        """Re-derives panels, grid and subscriptions from `self.watchlists` (after any change)."""
        current = self.watchlists.active_list
        count = LAYOUT_PANELS.get(current.layout, 4)
        self.panels = assign_panels([] if reset_panels else self.panels, current.entries, count)
        self.selected = max(0, min(self.selected, len(current.entries) - 1))
        self.focused_panel = min(self.focused_panel, count - 1)
        for layout in LAYOUT_PANELS:
            self.grid.set_class(layout == current.layout, f"layout-{layout}")
        for i, panel in enumerate(self.panel_widgets):
            panel.display = i < count
            panel.set_class(i == self.focused_panel, "-focused")
        self.update_watch()
        self.dirty = True

    def update_watch(self) -> None:
        """Tells the feed the desired series when they changed (it diffs and subscribes the rest)."""
        keys = watch_keys(self.watchlists.active_list.entries, self.panels)
        if keys != self._watched:
            self._watched = keys
            self.feed.watch(keys)

    # ------------------------------------------------------------------ feed

    def _feed_changed(self) -> None:
        # Runs inside the feed's receive loop: only flags, no widget work (the tick does that).
        self.dirty = True
        if self.paused:
            self.pending += 1

    @work(exclusive=True, group=FEED_GROUP, exit_on_error=False, description="Streaming market data")
    async def run_feed(self) -> None:
        await self.feed.run()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures land: a dead feed shows DOWN with its reason."""
        worker = event.worker
        if worker.group != FEED_GROUP:
            if event.state is WorkerState.ERROR and worker.group == "watchlist-file":
                self.notify(f"Watching the watchlist file stopped: {worker.error}", severity="warning")
            return
        if event.state is WorkerState.RUNNING:
            self.feed_down = None
        elif event.state is WorkerState.ERROR:
            error = worker.error
            self.feed_down = f"{type(error).__name__}: {error}" if error else "unknown error"
            self.log.error("feed worker failed", error=repr(error))
            self.notify(f"Feed stopped: {self.feed_down}. Press r to restart.", severity="error", timeout=10)
        elif event.state is WorkerState.SUCCESS and not self._exit:
            self.feed_down = "the feed ended"
        self.dirty = True
        if not self._exit:
            self.render_tick()

    def feed_worker_alive(self) -> bool:
        return any(w.group == FEED_GROUP and not w.is_finished for w in self.workers)

    def action_reconnect(self) -> None:
        """Restarts a dead feed worker; otherwise asks the live feed to reconnect at once."""
        if self.feed_down is not None or not self.feed_worker_alive():
            self.feed_down = None
            self.run_feed()
            self.notify("Restarting the feed…")
        else:
            self.feed.reconnect_now()
            self.notify("Reconnecting now…")
        self.dirty = True

    # ------------------------------------------------------------------ drawing

    def render_tick(self) -> None:
        """Coalesces every change since the last tick into one redraw of what moved."""
        now = self.clock.now()
        health = self.feed.health
        info = StatusInfo(self.paused, self.pending, self.feed_down, self.timezone)
        tz = timezone_for(self.timezone)
        self.status_bar.show(status_text(health, info, now, tz))
        self.status_bar.show_health(health)
        if self.paused:
            return
        # Ages on badges move once a second, so the second is part of what can change.
        signature = (self.feed.book.version, health.version, int(now), self.feed_down, self.timezone)
        if not self.dirty and signature == self._last_tick:
            return
        self.dirty, self._last_tick = False, signature
        sandbox = self.settings.connection.sandbox
        self.banner.show(banner_text(health, info, now, sandbox))
        self._draw_sidebar()
        for i, panel in enumerate(self.panel_widgets):
            if panel.display:
                panel.show(self.panel_view(self.panels[i] if i < len(self.panels) else None, now, tz))

    def _draw_sidebar(self) -> None:
        current = self.watchlists.active_list
        health, book = self.feed.health, self.feed.book
        rows: list[Row] = []
        for entry in current.entries:
            key = entry
            instrument = self.feed.instrument(entry.id)
            watch = health.watch.get(key)
            uid = (watch.uid if watch else None) or (instrument.uid if instrument else None)
            quote = book.quotes.get(uid) if uid else None
            phase = health.trading.get(uid) if uid else None
            step = float(instrument.price_step) if instrument else None
            rows.append(
                Row(
                    ticker=instrument.ticker if instrument else entry.id.split("_")[0],
                    interval=entry.interval.code,
                    price=format_price(quote.price if quote else None, step),
                    change=quote.change if quote else None,
                    phase=PHASE_LABELS.get(phase, "") if phase else "",
                    level=row_level(health, key, self.feed_down is not None),
                )
            )
        self.sidebar.show(f"{current.name} ({len(current.entries)})", tuple(rows), self.selected)

    def panel_view(self, key: WatchKey | None, now: float, tz: tzinfo) -> PanelView:
        """What one panel shows: title, badge, series and the reason of a failure."""
        if key is None:
            return PanelView(None, "empty", Badge("EMPTY", "", MUTED), message="Select a row and press Enter")
        health = self.feed.health
        instrument = self.feed.instrument(key.id)
        watch = health.watch.get(key)
        uid = (watch.uid if watch else None) or (instrument.uid if instrument else None)
        series = self.feed.book.find(SeriesKey(uid, key.interval)) if uid else None
        quote = self.feed.book.quotes.get(uid) if uid else None
        name = f"{instrument.ticker} {key.interval.code} · {instrument.name}" if instrument else key.id
        badge = panel_badge(health, key, now, self.feed_down)
        message = ""
        if badge.label == "ERROR" and watch is not None and watch.reason:
            message = (
                f"{key.id}: {watch.reason}\nThe other panels keep streaming.\nx removes it; or fix the file."
            )
        return PanelView(
            key=key,
            title=name if instrument else f"{key.id} {key.interval.code}",
            badge=badge,
            series=series,
            series_version=series.version if series is not None else -1,
            last_price=quote.price if quote else None,
            price_step=float(instrument.price_step) if instrument else None,
            tz=tz,
            message=message,
        )

    # ------------------------------------------------------------------ view actions

    def action_move(self, step: int) -> None:
        count = len(self.watchlists.active_list.entries)
        if count:
            self.selected = max(0, min(count - 1, self.selected + step))
            self._draw_sidebar()

    def action_jump(self, index: int) -> None:
        if index < len(self.watchlists.active_list.entries):
            self.selected = index
            self._draw_sidebar()

    def action_show_selected(self) -> None:
        entries = self.watchlists.active_list.entries
        if entries and self.focused_panel < len(self.panels):
            entry = entries[self.selected]
            self.panels[self.focused_panel] = entry
            self.update_watch()
            self.refresh_now()

    def action_next_panel(self) -> None:
        self.focused_panel = (self.focused_panel + 1) % max(1, len(self.panels))
        for i, panel in enumerate(self.panel_widgets):
            panel.set_class(i == self.focused_panel, "-focused")

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused:
            self.pending = 0
        self.refresh_now()

    def action_timezone(self) -> None:
        from monitor.ui.state import next_timezone

        self.timezone = next_timezone(self.timezone)
        self.refresh_now()

    def action_help(self) -> None:
        from monitor.ui.keys import key_help
        from monitor.ui.screens import HelpScreen

        detail = bad_messages_detail(self.feed.health)
        self.push_screen(HelpScreen(key_help(self.settings.ui.keys), detail))

    def refresh_now(self) -> None:
        """Redraws at once (after a key) instead of waiting for the next tick."""
        self.dirty = True
        self.render_tick()

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for item in KEY_ACTIONS:
            if item.id.startswith("jump_"):
                continue
            key = self.settings.ui.keys.get(item.id) or item.key_display or item.keys
            yield SystemCommand(item.description, f"key: {key}", partial(self.run_action, item.action))

    # ------------------------------------------------------------------ watchlist file

    @work(exclusive=True, group="watchlist-file", exit_on_error=False, description="Watching the watchlist")
    async def watch_watchlist_file(self) -> None:
        from watchfiles import awatch

        path = self.watchlist_path
        if not path.parent.is_dir():
            return
        # Watch the directory: our own saves (and editors) replace the file, which ends a file watch.
        async for _changes in awatch(
            path.parent, watch_filter=lambda _change, changed: Path(changed).name == path.name, debounce=200
        ):
            await self.reload_watchlists()

    async def reload_watchlists(self) -> None:
        """Loads the file off the loop; posts the result unless it equals what runs (our own save)."""
        from monitor.watchlist import WatchlistError

        try:
            loaded = await asyncio.to_thread(load_watchlists, self.watchlist_path)
        except WatchlistError as exc:
            self.post_message(WatchlistReloadFailed(str(exc)))
            return
        if loaded != self.watchlists:
            self.post_message(WatchlistReloaded(loaded))

    @on(WatchlistReloaded)
    def watchlist_reloaded(self, message: WatchlistReloaded) -> None:
        changed_list = message.watchlists.active_list.name != self.watchlists.active_list.name
        self.watchlists = message.watchlists
        self.apply_watchlist(reset_panels=changed_list)
        self.refresh_now()
        self.notify(f"Watchlist reloaded from {self.watchlist_path.name}")

    @on(WatchlistReloadFailed)
    def watchlist_reload_failed(self, message: WatchlistReloadFailed) -> None:
        self.notify(
            f"{message.error}\nKept the running list.", title="Watchlist not reloaded", severity="error"
        )


def _default_renderer(name: str) -> Renderer:
    from monitor.ui.render import get_renderer

    return get_renderer(name)


def make_app(
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
) -> MonitorApp:
    """Builds the app; the CLI and the tests both come through here."""
    return MonitorApp(
        settings,
        watchlists,
        watchlist_path,
        feed,
        clock,
        renderer=renderer,
        template_path=template_path,
        watch_file=watch_file,
        search_debounce=search_debounce,
    )

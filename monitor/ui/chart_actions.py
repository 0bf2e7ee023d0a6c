"""The chart keys and mouse of MonitorApp: cursor, scroll-back, zoom, hover, drag, wheel and clicks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from monitor.market import CandleSeries, WatchKey
from monitor.market.indicators import IndicatorSpec
from monitor.ui import chartview
from monitor.ui.chartview import ChartState
from monitor.ui.widgets.panel import PanelMouse
from monitor.ui.widgets.sidebar import RowClicked

if TYPE_CHECKING:
    from monitor.feed import FeedLike
    from monitor.ui.model import Edit, MonitorModel
    from monitor.ui.widgets import CandlePanel


class ChartActions:
    """Mixed into MonitorApp: each action changes one panel's ChartState, then redraws at once.

    Reaching the oldest candle held while looking back asks the feed for the page before it
    (`load_older` only schedules the fetch; the panel says loading… until it lands).
    """

    if TYPE_CHECKING:
        model: MonitorModel
        feed: FeedLike
        panel_widgets: list[CandlePanel]

        def refresh_now(self) -> None: ...
        def _show_focus(self) -> None: ...
        def _draw_sidebar(self) -> None: ...
        def action_show_selected(self) -> None: ...
        def show_model(self, edit: Edit | None = None) -> None: ...

    def _focused_chart(self, index: int | None = None) -> tuple[int, WatchKey, CandleSeries] | None:
        panel = self.model.focused_panel if index is None else index
        key = self.model.panel(panel)
        if key is None or panel >= len(self.panel_widgets):
            return None
        series = self.feed.view(key).series
        return None if series is None else (panel, key, series)

    def _visible(self, panel: int, state: ChartState) -> int:
        return self.panel_widgets[panel].visible_candles(state.zoom_level)

    def _change_chart(self, step: str, amount: int = 0, index: int | None = None) -> None:
        """Applies chart step `step` to panel `index` (the focused one by default) and redraws."""
        found = self._focused_chart(index)
        if found is None:
            return
        panel, key, series = found
        state = self.model.charts.get(panel, key)
        visible = self._visible(panel, state)
        zoom = state.zoom_level
        if step == "cursor":
            new = chartview.move_cursor(state, series, visible, amount * zoom.group)
        elif step == "page":
            new = chartview.move_cursor(state, series, visible, amount * visible)
        elif step == "pan":
            new = chartview.pan(state, series, visible, amount)
        elif step == "oldest":
            new = chartview.go_oldest(state, series, visible)
        elif step == "zoom":
            new = chartview.zoom(state, amount)
        elif step == "hover":
            new = chartview.hover(state, series, visible, amount)
        else:
            new = chartview.go_live(state)
        self._set_chart(panel, key, series, new)

    def _set_chart(self, panel: int, key: WatchKey, series: CandleSeries, state: ChartState) -> None:
        old = self.model.charts.get(panel, key)
        self.model.charts.set(panel, key, state)
        # Trimming drops candles on the side away from what the user looks at.
        series.anchor = state.right
        if chartview.wants_older(state, series, self._visible(panel, state)):
            self.feed.load_older(key)  # schedules a page; never awaited here
        if state != old:
            self.refresh_now()

    def action_cursor(self, step: int) -> None:
        self._change_chart("cursor", step)

    def action_page(self, step: int) -> None:
        self._change_chart("page", step)

    def action_live(self) -> None:
        self._change_chart("live")

    def action_oldest(self) -> None:
        self._change_chart("oldest")

    def action_zoom(self, step: int) -> None:
        self._change_chart("zoom", step)

    def action_fill(self) -> None:
        self.show_model(self.model.fill_empty())

    def action_indicators(self) -> None:
        """The picker of the focused panel's indicators; what it returns is saved to its entry."""
        from monitor.ui.screens.indicators import IndicatorPicker

        key = self.model.panel(self.model.focused_panel)
        if key is None:
            return
        picker = IndicatorPicker(self.model.current.indicators_for(key), f"Indicators of {key.id}")
        app: Any = self  # a MonitorApp: Textual's push_screen
        app.push_screen(picker, self._picked)

    def _picked(self, specs: tuple[IndicatorSpec, ...] | None) -> None:
        if specs is not None:
            self.show_model(self.model.set_indicators(specs))

    # ------------------------------------------------------------------ mouse

    def on_panel_mouse(self, message: PanelMouse) -> None:
        index = message.index
        if message.kind == "click":
            if index != self.model.focused_panel and index < len(self.model.panels):
                self.model.focused_panel = index
                self._show_focus()
        elif message.kind == "hover" and message.value is not None:
            self._change_chart("hover", message.value, index)
        elif message.kind == "wheel" and message.value is not None:
            self._change_chart("zoom", message.value, index)
        elif message.kind == "drag" and message.value:
            found = self._focused_chart(index)
            if found is not None:
                zoom = self.model.charts.get(index, found[1]).zoom_level
                # Dragging right pulls older candles into view, as on a paper chart.
                candles = -message.value * zoom.group // zoom.cells or (-1 if message.value > 0 else 1)
                self._change_chart("pan", candles, index)

    def on_row_clicked(self, message: RowClicked) -> None:
        self.model.jump(message.index)
        self._draw_sidebar()
        if message.double:
            self.action_show_selected()

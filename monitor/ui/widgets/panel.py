"""The candle panel: a title line with the health badge over a chart, drawn with the line API."""

from __future__ import annotations

from dataclasses import replace

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from monitor.market.indicators import IndicatorBook
from monitor.ui.badge import ERROR, MUTED, OK, WARN
from monitor.ui.chartinput import Shown, build_input, visible_candles
from monitor.ui.chartview import ZoomLevel, frame, history_label
from monitor.ui.render.base import ChartStyle, Renderer
from monitor.ui.views import PanelView

BADGE_STYLES: dict[str, Style] = {
    OK: Style.parse("bold black on green"),
    WARN: Style.parse("bold black on yellow"),
    ERROR: Style.parse("bold white on red"),
    MUTED: Style.parse("bold white on grey42"),
}
HISTORY_STYLE = Style.parse("bold black on cyan")


def fit_header(width: int, badge: str, label: str, history: str) -> tuple[str, str]:
    """The badge and the history words, padded, shortened until both fit in `width` cells.

    The badge keeps its room first, then where the chart looks; the title takes what is left.
    Narrow panels drop the badge's detail (its age), then the word HISTORY, then cut the rest.
    """
    if not history:
        return f" {badge} ", ""
    short = history.removeprefix("HISTORY ")
    for badge_text, words in ((badge, history), (label, history), (label, short)):
        if len(badge_text) + len(words) + 4 <= width:
            return f" {badge_text} ", f" {words} "
    return f" {label} ", f" {short[: max(0, width - len(label) - 4)]} "


class PanelMouse(Message):
    """A mouse action on panel `index`: click, hover (x in chart cells), wheel or drag (dx cells)."""

    def __init__(self, index: int, kind: str, value: int | None = None) -> None:
        super().__init__()
        self.index, self.kind, self.value = index, kind, value


class CandlePanel(Widget):
    """One chart panel. It owns no market data: the app hands it a PanelView on each tick.

    The chart is built once per change into a list of strips that `render_line` only indexes, and
    only the lines that differ from the previous build are repainted: a forming-candle update
    usually touches the newest column, the last-price row and its axis label, not the whole panel.
    The title line is cached on its own, so a ticking age repaints one line.
    """

    DEFAULT_CSS = """
    CandlePanel {
        border: round $panel-lighten-2;
        height: 1fr;
        width: 1fr;
    }
    CandlePanel.-focused {
        border: round $accent;
    }
    """

    def __init__(
        self,
        renderer: Renderer,
        style: ChartStyle,
        *,
        indicators: IndicatorBook | None = None,
        name: str | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id)
        self.renderer = renderer
        self.indicators = indicators
        """Where the indicator lines of the shown series come from (kept up to date by the feed)."""
        self.chart_style = style
        self.view: PanelView | None = None
        self._chart: list[Strip] | None = None
        self._chart_key: tuple[object, ...] | None = None
        self._header: Strip | None = None
        self._header_key: tuple[object, ...] | None = None
        self._base: Style | None = None
        """The widget's own rich style as of the last frame: walking the DOM for it costs more than
        drawing a line, so it is computed once per frame (and dropped when the styles change)."""
        self._drag_x: int | None = None
        """Where a drag (button held) last was, in cells."""
        self._shown: Shown | None = None
        """The last chart input built, what a hover maps the pointer onto."""

    @property
    def index(self) -> int:
        """The panel's place in the grid (its id is panel-N)."""
        return int((self.id or "panel-0").rpartition("-")[2] or 0)

    @property
    def readout(self) -> str | None:
        """The cursor's readout as last drawn (the chart's top line shows as much as fits)."""
        return self._shown.data.readout if self._shown is not None else None

    def visible_candles(self, zoom: ZoomLevel) -> int:
        """How many candles this panel's chart fits at `zoom` now."""
        return visible_candles(self.renderer, self.size.width, zoom)

    def history_text(self) -> str:
        """HISTORY / loading… / start of history / +N new, as the header shows it."""
        view = self.view
        if view is None or view.series is None:
            return ""
        visible = self.visible_candles(view.chart.zoom_level)
        shown = frame(view.chart, view.series, visible)
        return history_label(view.chart, shown, view.loading, view.at_start, view.history_error)

    def show(self, view: PanelView) -> None:
        """Takes a new view and repaints only the lines that changed."""
        old, self.view = self.view, view
        if old is None or self._header_sig(old) != self._header_sig(view):
            self._header = None
            self.refresh(Region(0, 0, self.size.width, 1))
        if old is not None and self._chart_sig(old) == self._chart_sig(view):
            return
        self._update_chart()

    def set_chart_style(self, style: ChartStyle) -> None:
        """Changes the colours (theme or settings change) and redraws."""
        if style != self.chart_style:
            self.chart_style = style
            self._chart = None
            self.refresh()

    def notify_style_update(self) -> None:
        # A theme or class change may change the background the chart is painted on.
        super().notify_style_update()
        self._base = None

    @staticmethod
    def _header_sig(view: PanelView) -> tuple[object, ...]:
        moves = view.series_version if not view.chart.live else None  # "+N new" counts arrivals
        return (view.title, view.badge, view.chart, view.loading, view.at_start, view.history_error, moves)

    @staticmethod
    def _chart_sig(view: PanelView) -> tuple[object, ...]:
        sig = (view.key, id(view.series), view.series_version, view.last_price, view.tz, view.message)
        return (*sig, view.chart, view.indicators)

    def _key(self, width: int, height: int, base: Style) -> tuple[object, ...]:
        sig = self._chart_sig(self.view) if self.view is not None else None
        return (width, height, self.chart_style, base, sig)

    def _update_chart(self) -> None:
        """Rebuilds the chart now and marks only the lines that differ from the last build dirty."""
        old, base = self._chart, self._base
        width, height = self.size.width, self.size.height - 1
        if old is None or base is None or len(old) != max(0, height) or width <= 0:
            # Nothing comparable on screen yet (first show, resize, style change): draw it all.
            self._chart = None
            self.refresh()
            return
        new = self._rebuild(width, height, base)
        y = 0
        while y < height:
            if new[y] == old[y]:
                y += 1
                continue
            start = y
            while y < height and new[y] != old[y]:
                y += 1
            # +1: chart line y is content line y + 1, under the title.
            self.refresh(Region(0, start + 1, width, y - start))

    def _base_style(self) -> Style:
        if self._base is None:
            self._base = self.rich_style
        return self._base

    def _rebuild(self, width: int, height: int, base: Style) -> list[Strip]:
        self._base = base
        self._chart_key = self._key(width, height, base)
        self._chart = self._build_chart(self.view, width, height)
        return self._chart

    def render_lines(self, crop: Region) -> list[Strip]:
        # Once per frame, before Textual asks for each dirty line.
        base = self.rich_style
        if self._base is not None and base != self._base:
            # The colours changed under lines Textual still caches: repaint all of them.
            self.refresh()
        self._base = base
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        base = self._base_style()
        if y == 0:
            return self._header_strip(width, base)
        chart = self._chart
        if chart is None or self._chart_key != self._key(width, height - 1, base):
            chart = self._rebuild(width, height - 1, base)
        return chart[y - 1] if 0 <= y - 1 < len(chart) else Strip.blank(width, base)

    def _header_strip(self, width: int, base: Style) -> Strip:
        view = self.view
        key = (width, self._header_sig(view) if view else None, base)
        if self._header is None or self._header_key != key:
            self._header_key = key
            self._header = self._build_header(width, base)
        return self._header

    def _build_header(self, width: int, base: Style) -> Strip:
        view = self.view
        if view is None:
            return Strip.blank(width, base)
        badge, history = fit_header(width, view.badge.text, view.badge.label, self.history_text())
        title_room = max(0, width - len(badge) - len(history) - 1)
        title = view.title[:title_room].ljust(title_room)
        segments = [Segment(title, base + Style(bold=True)), Segment(" ", base)]
        if history:
            segments.append(Segment(history, HISTORY_STYLE))
        segments.append(Segment(badge, BADGE_STYLES.get(view.badge.level, base)))
        return Strip(segments).crop_extend(0, width, base)

    def _build_chart(self, view: PanelView | None, width: int, height: int) -> list[Strip]:
        if height <= 0 or width <= 0:
            return []
        series = view.series if view is not None else None
        if view is None or series is None or len(series) == 0:
            text = view.message if view is not None and view.message else "waiting for data…"
            return self._message(text, width, height, view is not None and view.badge.level == ERROR)
        shown = build_input(
            series,
            view.chart,
            self.visible_candles(view.chart.zoom_level),
            interval=view.key.interval if view.key else series.key.interval,
            last_price=view.last_price,
            price_step=view.price_step,
            tz=view.tz,
            show_volume=height >= 10,
            book=self.indicators,
            specs=view.indicators,
        )
        style, base = self.chart_style, self._base_style()
        if style.background is None and base.bgcolor is not None:
            # Renderers paint their own cells: give them the theme's surface so light themes stay light.
            style = replace(style, background=base.bgcolor.name)
        self._shown = shown
        return self.renderer.render(shown.data, width, height, style)

    def index_at(self, x: int) -> int | None:
        """The index in the shown window of the candle under chart column `x` (None: off the candles)."""
        shown, width, height = self._shown, self.size.width, self.size.height - 1
        if shown is None or not shown.data.candles:
            return None
        geometry = getattr(self.renderer, "geometry", None)  # plotext cannot say where it drew
        column: int | None = geometry(shown.data, width, height).index_at(x) if geometry else None
        # Zoomed out, a column is a group: the cursor goes on its newest candle.
        return shown.ends[column] if column is not None and 0 <= column < len(shown.ends) else None

    # ------------------------------------------------------------------ mouse

    def on_click(self, event: events.Click) -> None:
        self.post_message(PanelMouse(self.index, "click"))

    def on_mouse_move(self, event: events.MouseMove) -> None:
        x = event.get_content_offset_capture(self).x
        # The mouse is captured from button down to up: every move in between is the drag.
        if self._drag_x is not None:
            if x != self._drag_x:
                self.post_message(PanelMouse(self.index, "drag", x - self._drag_x))
            self._drag_x = x
            return
        offset = event.get_content_offset(self)
        # y 0 is the title line; the chart starts under it.
        if offset is not None and offset.y >= 1:
            self.post_message(PanelMouse(self.index, "hover", self.index_at(offset.x)))

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self._drag_x = event.get_content_offset_capture(self).x
        self.capture_mouse()

    def on_mouse_up(self, event: events.MouseUp) -> None:
        self._drag_x = None
        self.release_mouse()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.post_message(PanelMouse(self.index, "wheel", -1))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.post_message(PanelMouse(self.index, "wheel", 1))

    def _message(self, text: str, width: int, height: int, error: bool) -> list[Strip]:
        base = self._base_style()
        emphasis = base + Style(color="red", bold=True) if error else base + Style(dim=True)
        lines = [line.strip() for line in text.splitlines()] or [""]
        top = max(0, (height - len(lines)) // 2)
        strips = [Strip.blank(width, base) for _ in range(height)]
        for i, line in enumerate(lines[:height]):
            cut = line[:width]
            pad = (width - len(cut)) // 2
            strips[min(height - 1, top + i)] = Strip(
                [Segment(" " * pad, base), Segment(cut, emphasis if i == 0 else base + Style(dim=True))]
            ).crop_extend(0, width, base)
        return strips

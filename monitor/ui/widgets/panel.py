"""The candle panel: a title line with the health badge over a chart, drawn with the line API."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from monitor.feed.health import WatchKey
from monitor.market import CandleSeries
from monitor.ui.render.base import ChartInput, ChartStyle, Renderer
from monitor.ui.widgets.badge import ERROR, MUTED, OK, WARN, Badge

BADGE_STYLES: dict[str, Style] = {
    OK: Style.parse("bold black on green"),
    WARN: Style.parse("bold black on yellow"),
    ERROR: Style.parse("bold white on red"),
    MUTED: Style.parse("bold white on grey42"),
}


@dataclass(frozen=True)
class PanelView:
    """Everything a panel draws, computed by the app on its render tick.

    The series is passed by reference; `series_version` is what tells the panel it moved.
    """

    key: WatchKey | None
    title: str
    badge: Badge
    series: CandleSeries | None = None
    series_version: int = -1
    last_price: float | None = None
    price_step: float | None = None
    tz: datetime.tzinfo = datetime.UTC
    message: str = ""
    """Shown instead of the chart when there is nothing to draw (the reason of a failure)."""


class CandlePanel(Widget):
    """One chart panel. It owns no market data: the app hands it a PanelView on each tick.

    The title line and the chart are cached separately, so a ticking age re-renders one line and
    the chart is rebuilt only when its series version, size, style or time zone changed.
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
        self, renderer: Renderer, style: ChartStyle, *, name: str | None = None, id: str | None = None
    ) -> None:
        super().__init__(name=name, id=id)
        self.renderer = renderer
        self.chart_style = style
        self.view: PanelView | None = None
        self.chart_renders = 0
        """How many times the chart was rebuilt (tests check that idle panels stay cached)."""
        self.header_renders = 0
        self._chart: list[Strip] | None = None
        self._chart_key: tuple[object, ...] | None = None
        self._header: Strip | None = None
        self._header_key: tuple[object, ...] | None = None

    def show(self, view: PanelView) -> None:
        """Takes a new view and refreshes only the parts that changed."""
        old, self.view = self.view, view
        if old is not None and self._chart_sig(old) == self._chart_sig(view):
            if (old.title, old.badge) != (view.title, view.badge):
                self._header = None
                self.refresh(Region(0, 0, self.size.width, 1))
            return
        self._chart = self._header = None
        self.refresh()

    def set_chart_style(self, style: ChartStyle) -> None:
        """Changes the colours (theme or settings change) and redraws."""
        if style != self.chart_style:
            self.chart_style = style
            self._chart = None
            self.refresh()

    @staticmethod
    def _chart_sig(view: PanelView) -> tuple[object, ...]:
        return (view.key, id(view.series), view.series_version, view.last_price, view.tz, view.message)

    def render_line(self, y: int) -> Strip:
        width, height = self.size.width, self.size.height
        if y == 0:
            return self._header_strip(width)
        chart = self._chart_strips(width, height - 1)
        return chart[y - 1] if 0 <= y - 1 < len(chart) else Strip.blank(width, self.rich_style)

    def _header_strip(self, width: int) -> Strip:
        view = self.view
        key = (width, view.title if view else "", view.badge if view else None, self.rich_style)
        if self._header is None or self._header_key != key:
            self.header_renders += 1
            self._header_key = key
            self._header = self._build_header(width)
        return self._header

    def _build_header(self, width: int) -> Strip:
        base = self.rich_style
        view = self.view
        if view is None:
            return Strip.blank(width, base)
        badge = f" {view.badge.text} "
        title_room = max(0, width - len(badge) - 1)
        title = view.title[:title_room].ljust(title_room)
        segments = [
            Segment(title, base + Style(bold=True)),
            Segment(" ", base),
            Segment(badge, BADGE_STYLES.get(view.badge.level, base)),
        ]
        return Strip(segments).crop_extend(0, width, base)

    def _chart_strips(self, width: int, height: int) -> list[Strip]:
        view = self.view
        key = (width, height, self.chart_style, self.rich_style, self._chart_sig(view) if view else None)
        if self._chart is not None and self._chart_key == key:
            return self._chart
        self._chart_key = key
        self.chart_renders += 1
        self._chart = self._build_chart(view, width, height)
        return self._chart

    def _build_chart(self, view: PanelView | None, width: int, height: int) -> list[Strip]:
        if height <= 0 or width <= 0:
            return []
        series = view.series if view is not None else None
        if view is None or series is None or len(series) == 0:
            text = view.message if view is not None and view.message else "waiting for data…"
            return self._message(text, width, height, view is not None and view.badge.level == ERROR)
        data = ChartInput(
            candles=series.last(max(1, width)),
            interval=view.key.interval if view.key else series.key.interval,
            gaps=tuple(series.gaps),
            backfilled=tuple(series.backfilled),
            last_price=view.last_price,
            price_step=view.price_step,
            tz=view.tz,
            show_volume=height >= 10,
        )
        style = self.chart_style
        if style.background is None and self.rich_style.bgcolor is not None:
            # Renderers paint their own cells: give them the theme's surface so light themes stay light.
            from dataclasses import replace

            style = replace(style, background=self.rich_style.bgcolor.name)
        return self.renderer.render(data, width, height, style)

    def _message(self, text: str, width: int, height: int, error: bool) -> list[Strip]:
        base = self.rich_style
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

"""What the render tick draws into the panels and the sidebar, from the feed's views and the model."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from monitor.feed import FeedLike, Health, WatchView
from monitor.market import WatchKey
from monitor.ui.model import MonitorModel
from monitor.ui.views import empty_panel, panel_of, row_of
from monitor.ui.widgets import CandlePanel, WatchlistSidebar


def draw_panels(
    panels: Sequence[CandlePanel],
    model: MonitorModel,
    feed: FeedLike,
    views: Mapping[WatchKey, WatchView],
    now: float,
    marks: Callable[[WatchKey], str] = lambda _key: "",
) -> None:
    """Hands each shown panel its view: series, badge, where its chart looks and its alert mark."""
    health, tz = feed.health, model.tz
    for i, panel in enumerate(panels):
        if panel.display:
            key = model.panel(i)
            if key is None:
                panel.show(empty_panel())
            else:
                view = views.get(key) or feed.view(key)
                chart, specs = model.charts.get(i, key), model.current.indicators_for(key)
                panel.show(panel_of(view, health, now, tz, model.feed_down, chart, specs, marks(key)))


def draw_sidebar(
    sidebar: WatchlistSidebar,
    model: MonitorModel,
    feed: FeedLike,
    views: Mapping[WatchKey, WatchView],
    health: Health,
    now: float,
    marks: Callable[[WatchKey], str] = lambda _key: "",
) -> None:
    """The watchlist rows (with their alert marks) and the selection."""
    current, down = model.current, model.feed_down is not None
    rows = tuple(
        row_of(views.get(key) or feed.view(key), health, now, down, marks(key)) for key in current.entries
    )
    sidebar.show(f"{current.name} ({len(current.entries)})", rows, model.selected)

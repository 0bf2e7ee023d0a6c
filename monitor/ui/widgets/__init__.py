"""Widgets of the monitor screen: candle panels, the watchlist sidebar, the status bar and banner."""

from monitor.ui.views import PanelView, Row
from monitor.ui.widgets.panel import CandlePanel
from monitor.ui.widgets.sidebar import WatchlistSidebar
from monitor.ui.widgets.status_bar import Banner, StatusBar

__all__ = ["Banner", "CandlePanel", "PanelView", "Row", "StatusBar", "WatchlistSidebar"]

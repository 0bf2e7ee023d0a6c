"""Modal screens: help, instrument search and the watchlist switcher."""

from monitor.ui.screens.help import HelpScreen
from monitor.ui.screens.search import SearchScreen
from monitor.ui.screens.switcher import WatchlistSwitcher

__all__ = ["HelpScreen", "SearchScreen", "WatchlistSwitcher"]

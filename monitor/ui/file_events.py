"""The watchlist file events of MonitorApp: saves landed or failed, the file changed on disk."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textual import work

from monitor.ui.messages import WatchlistReloaded, WatchlistReloadFailed, WatchlistSaved, WatchlistSaveFailed
from monitor.ui.watchfile import WatchlistSaver, reload, watch_changes

if TYPE_CHECKING:
    from textual.app import App

    from monitor.ui.alerting import AlertDelivery
    from monitor.ui.model import Edit, MonitorModel

    _AppBase = App[int]
else:
    _AppBase = object

FILE_GROUP = "watchlist-file"


class WatchlistFileEvents(_AppBase):
    """Mixed into MonitorApp: what the saver and the file watcher report lands in the model here.

    A save that landed or a file changed on disk is taken into the model with the edits still
    pending replayed on top, so nothing the user did is lost while the file moves under them.
    """

    if TYPE_CHECKING:
        model: MonitorModel
        saver: WatchlistSaver
        watchlist_path: Path
        alerting: AlertDelivery

        def show_model(self, edit: Edit | None = None) -> None: ...

    def on_watchlist_saved(self, message: WatchlistSaved) -> None:
        for notice in message.notices:
            self.notify(notice)
        if self.saver.idle and message.watchlists != self.model.file:
            self.model.reload(message.watchlists, self.saver.pending)
            self.alerting.sync()
            self.show_model()

    def on_watchlist_save_failed(self, message: WatchlistSaveFailed) -> None:
        # The edit stays in the model and the saver: the next save (an edit, s, a reload) writes it.
        self.notify(f"Not saved to {message.path}: {message.error}", severity="error", timeout=10)

    @work(exclusive=True, group=FILE_GROUP, exit_on_error=False, description="Watching the watchlist file")
    async def watch_watchlist_file(self) -> None:
        await watch_changes(self.watchlist_path, self.reload_watchlists)

    async def reload_watchlists(self) -> None:
        """Reads the file after it changed on disk; applies it unless it holds what runs."""
        message = await reload(self.watchlist_path, self.model.file, self.saver)
        if message is not None:
            self.post_message(message)

    def on_watchlist_reloaded(self, message: WatchlistReloaded) -> None:
        # Edits whose save was refused (the file did not load) are replayed onto it and retried.
        self.model.reload(message.watchlists, self.saver.pending)
        self.saver.retry(self.model.file)
        self.alerting.sync()
        self.show_model()
        self.notify(f"Watchlist reloaded from {self.watchlist_path.name}")

    def on_watchlist_reload_failed(self, message: WatchlistReloadFailed) -> None:
        self.notify(
            f"{message.error}\nKept the running list.", title="Watchlist not reloaded", severity="error"
        )
